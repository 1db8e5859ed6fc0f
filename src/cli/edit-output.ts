import { UserError } from '../core/errors';
import { joinPath } from '../core/paths';
import { decodeCheckpoint, type Checkpoint } from '../edit/loops/checkpoint';
import { checkCheckpointSettings } from '../edit/loops/checkpoint-check';
import { settingsDifference } from '../edit/loops/edit-spec';
import { readJson } from '../io/files/files';
import { nodeFiles } from '../io/node/node-files';

/** The files of an edit's output folder (`edit` and `stylize`): its checkpoint and its log. */
export const CKPT = 'edit.ckpt';
export const LOG = 'edit-log.json';

/**
 * Opens the output folder of an edit (`what`: "edit" or "stylisation") for `--out` (a new one: the folder must not
 * hold one already) or `--resume` (its checkpoint, checked). 'done' when a resumed edit had already finished
 * (said on stdout); a UserError naming the folder otherwise. `input` must not be an unfinished edit itself.
 */
export async function openEditOutput(o: {
  out: string;
  input: string;
  resuming: boolean;
  json: boolean;
  what: 'edit' | 'stylisation';
}): Promise<{ ckptPath: string; resume: Checkpoint | null } | 'done'> {
  const { out, what } = o;
  const ckptPath = joinPath(out, CKPT);
  let resume: Checkpoint | null = null;
  if (o.resuming) {
    if (!(await nodeFiles.exists(ckptPath))) {
      if ((await nodeFiles.exists(joinPath(out, LOG))) && (await readJson(nodeFiles, joinPath(out, LOG))).status === 'done') {
        if (o.json) console.log(JSON.stringify({ event: 'done', out, resumed: false, note: 'already complete' }));
        else console.log(`${out}: this ${what} is already complete; nothing to resume`);
        return 'done';
      }
      throw new UserError(`no checkpoint to resume from (${CKPT} is missing; start the ${what} with --out)`, out);
    }
    resume = checkCheckpointSettings(decodeCheckpoint(await nodeFiles.read(ckptPath), ckptPath), ckptPath);
  } else if ((await nodeFiles.exists(ckptPath)) || (await nodeFiles.exists(joinPath(out, 'scene.json'))))
    throw new UserError(
      `already holds ${what === 'edit' ? 'an' : 'a'} ${what}; continue it with --resume ${out}, or choose a new --out`,
      out,
    );
  if (await nodeFiles.exists(joinPath(o.input, CKPT))) throw new UserError(`is an unfinished ${what} (resume it first)`, o.input);
  return { ckptPath, resume };
}

/**
 * Refuses to resume a checkpoint whose settings differ from this run's: the `keys` compared as JSON, then
 * `difference` when given (a caller's own comparison, e.g. its view count), else the edit spec
 * (`settingsDifference`). `noSpec` is the message for a checkpoint without a spec.
 */
export function checkResumeSettings<S extends { spec: Record<string, unknown> }>(
  saved: S,
  now: S,
  keys: readonly (keyof S)[],
  ckptPath: string,
  noSpec: string,
  difference?: string | null,
): void {
  for (const k of keys)
    if (JSON.stringify(saved[k]) !== JSON.stringify(now[k]))
      throw new UserError(
        `the checkpoint was made with a different ${String(k)} (${JSON.stringify(saved[k])}, now ${JSON.stringify(now[k])}); resume with the same options`,
        ckptPath,
      );
  if (!saved.spec) throw new UserError(noSpec, ckptPath);
  const diff = difference ?? settingsDifference(saved.spec, now.spec);
  if (diff) throw new UserError(`the checkpoint was made with a different ${diff}; resume with the same options`, ckptPath);
}
