/**
 * Files from a drop event or a file input, with paths relative to what was dropped/picked: a dropped folder's
 * files keep their paths inside it (so transforms.json finds its images and scene.json its data file).
 */
export interface PickedFile {
  path: string;
  data: Blob;
}

interface EntryLike {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  fullPath: string;
  file?(ok: (f: File) => void, err: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (e: EntryLike[]) => void, err: (e: unknown) => void): void };
}

async function walk(entry: EntryLike, out: PickedFile[]): Promise<void> {
  if (entry.isFile && entry.file) {
    const f = await new Promise<File>((res, rej) => entry.file!(res, rej));
    out.push({ path: entry.fullPath.replace(/^\/+/, ''), data: f });
  } else if (entry.isDirectory && entry.createReader) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise<EntryLike[]>((res, rej) => reader.readEntries(res, rej));
      if (batch.length === 0) break;
      for (const e of batch) await walk(e, out);
    }
  }
}

/** Everything dropped (folders walked recursively). */
export async function filesFromDrop(dt: DataTransfer): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  const entries: EntryLike[] = [];
  for (const item of Array.from(dt.items)) {
    const e = (item as DataTransferItem & { webkitGetAsEntry?(): EntryLike | null }).webkitGetAsEntry?.();
    if (e) entries.push(e);
  }
  if (entries.length) for (const e of entries) await walk(e, out);
  else for (const f of Array.from(dt.files)) out.push({ path: f.name, data: f });
  return out;
}

/** Files from an <input type=file> (with `webkitdirectory`, paths inside the picked folder). */
export function filesFromInput(list: FileList): PickedFile[] {
  return Array.from(list).map((f) => ({ path: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, data: f }));
}
