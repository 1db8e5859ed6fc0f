// Counting sort of the viewer's draw records by their 16-bit depth keys (docs/viewer.md), after splat_project.wgsl
// appended the records and counted every key in `hist`. CPU twin: src/viewer/three/splat-project.ts (splatOffsets,
// splatScatter). Two dispatches and no indirect arguments: on software adapters every dispatch and every validation
// pass for indirect arguments costs a synchronisation of the emulating threads.
//
//   splat_offsets  one workgroup: the number of records kept (≤ capacity) → state[3] and the draw's `count`;
//                  exclusive prefix sums of the 65536-bin histogram → `offsets`; clears `hist` and the record
//                  counter for the next frame
//   splat_scatter  order[offsets[key]++] = record for every kept record (far keys first; records with equal keys
//                  land in any order)

struct SortParams { capacity: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> P: SortParams;
@group(0) @binding(1) var<storage, read_write> state: array<u32>;
@group(0) @binding(2) var<storage, read_write> keys: array<u32>;
@group(0) @binding(3) var<storage, read_write> hist: array<u32>;
@group(0) @binding(4) var<storage, read_write> offsets: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> order: array<u32>;
@group(0) @binding(6) var<storage, read_write> count: array<u32>;

override WG: u32 = 256;
const BINS: u32 = 65536u;
const PER_THREAD: u32 = 256u; // BINS / 256 threads

var<workgroup> sums: array<u32, 256>;

@compute @workgroup_size(256)
fn splat_offsets(@builtin(local_invocation_index) t: u32) {
  let base = t * PER_THREAD;
  var s = 0u;
  for (var i = 0u; i < PER_THREAD; i = i + 1u) { s = s + hist[base + i]; }
  sums[t] = s;
  workgroupBarrier();
  // inclusive scan of the 256 partial sums (Hillis–Steele)
  for (var d = 1u; d < 256u; d = d << 1u) {
    var v = sums[t];
    if (t >= d) { v = v + sums[t - d]; }
    workgroupBarrier();
    sums[t] = v;
    workgroupBarrier();
  }
  var run = sums[t] - s;
  for (var i = 0u; i < PER_THREAD; i = i + 1u) {
    let h = hist[base + i];
    atomicStore(&offsets[base + i], run);
    run = run + h;
    hist[base + i] = 0u;
  }
  if (t == 0u) {
    let kept = min(state[0], P.capacity);
    state[3] = kept;
    state[0] = 0u;
    count[0] = kept;
  }
}

@compute @workgroup_size(WG)
fn splat_scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  if (j >= state[3]) { return; }
  let pos = atomicAdd(&offsets[keys[j]], 1u);
  order[pos] = j;
}
