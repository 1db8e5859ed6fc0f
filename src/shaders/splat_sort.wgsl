// Counting sort of the viewer's draw records by their 16-bit depth keys (docs/viewer.md), after splat_project.wgsl
// appended the records and counted every key in `hist`, and sort_scan.wgsl turned `hist` into exclusive offsets.
// CPU twin: src/viewer/three/splat-project.ts (splatArgs, splatScatter).
//
//   splat_args     one thread: the record count → the scatter's indirect dispatch and the indirect draw (6 vertices a record)
//   splat_scatter  order[offset[key]++] = record, for every record (a GPU counting sort: far keys first; records
//                  with equal keys land in any order)

struct SortParams { capacity: u32, max_groups: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> P: SortParams;
@group(0) @binding(1) var<storage, read_write> state: array<u32>;
@group(0) @binding(2) var<storage, read_write> keys: array<u32>;
@group(0) @binding(3) var<storage, read_write> offsets: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> order: array<u32>;
@group(0) @binding(5) var<storage, read_write> dispatch: array<u32>;
@group(0) @binding(6) var<storage, read_write> draw: array<u32>;

override WG: u32 = 256;

@compute @workgroup_size(1)
fn splat_args() {
  let count = min(state[0], P.capacity);
  state[3] = count;
  let groups = (count + WG - 1u) / WG;
  // more than max_groups workgroups spill into y (the scatter takes its index as x + y·groups_x·WG)
  let x = min(groups, P.max_groups);
  dispatch[0] = x;
  dispatch[1] = select(1u, (groups + x - 1u) / max(x, 1u), x > 0u);
  dispatch[2] = 1u;
  draw[0] = 6u * count;
  draw[1] = 1u;
  draw[2] = 0u;
  draw[3] = 0u;
}

@compute @workgroup_size(WG)
fn splat_scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  if (j >= state[3]) { return; }
  let pos = atomicAdd(&offsets[keys[j]], 1u);
  order[pos] = j;
}
