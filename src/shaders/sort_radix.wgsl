// Stable LSD radix sort of (key, value) pairs, 4 bits per pass, 256 elements per workgroup.
// Keys are one u32 word (keysLo) or two (keysHi:keysLo, compared as a 64-bit number; HAS_HI). Each pass sorts by
// the digit (word >> shift) & 15 of word `useHi ? hi : lo`:
//   1. `radix_count`: per-block digit histogram into hist[digit * numBlocks + block] (digit-major, so that one
//      exclusive scan of `hist` (sort_scan.wgsl) gives every (digit, block) its first output slot);
//   2. `radix_scatter`: each element goes to hist[digit * numBlocks + block] + its rank among the elements of its
//      block with the same digit and a lower index (stable); 16 threads, one per digit, walk the block's digits
//      in workgroup memory to assign the ranks.
// Host side: src/gpu/radix-sort.ts.

struct SortParams { n: u32, shift: u32, useHi: u32, numBlocks: u32 }

override HAS_HI: bool = true;

@group(0) @binding(0) var<uniform> P: SortParams;
@group(0) @binding(1) var<storage, read> keysLoIn: array<u32>;
@group(0) @binding(2) var<storage, read> keysHiIn: array<u32>;
@group(0) @binding(3) var<storage, read> valsIn: array<u32>;
@group(0) @binding(4) var<storage, read_write> hist: array<u32>;
@group(0) @binding(5) var<storage, read_write> keysLoOut: array<u32>;
@group(0) @binding(6) var<storage, read_write> keysHiOut: array<u32>;
@group(0) @binding(7) var<storage, read_write> valsOut: array<u32>;

const WGS: u32 = 256u;

var<workgroup> counts: array<atomic<u32>, 16>;
var<workgroup> s_digit: array<u32, 256>;
var<workgroup> s_rank: array<u32, 256>;

fn digitOf(i: u32) -> u32 {
  var w: u32;
  if (HAS_HI && P.useHi != 0u) { w = keysHiIn[i]; } else { w = keysLoIn[i]; }
  return (w >> P.shift) & 15u;
}

@compute @workgroup_size(256)
fn radix_count(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (lid < 16u) { atomicStore(&counts[lid], 0u); }
  workgroupBarrier();
  let i = b * WGS + lid;
  if (i < P.n) { atomicAdd(&counts[digitOf(i)], 1u); }
  workgroupBarrier();
  if (lid < 16u && b < P.numBlocks) { hist[lid * P.numBlocks + b] = atomicLoad(&counts[lid]); }
}

@compute @workgroup_size(256)
fn radix_scatter(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  let i = b * WGS + lid;
  let valid = i < P.n;
  var d = 16u;
  if (valid) { d = digitOf(i); }
  s_digit[lid] = d;
  workgroupBarrier();
  // rank within the block among equal digits: thread t < 16 walks the block once for digit t (2 barriers in all;
  // a parallel scan needs ~16 and barriers are what software rasterisers pay most for)
  if (lid < 16u) {
    var c = 0u;
    for (var j = 0u; j < WGS; j++) {
      if (s_digit[j] == lid) {
        s_rank[j] = c;
        c++;
      }
    }
  }
  workgroupBarrier();
  if (valid) {
    let dst = min(hist[d * P.numBlocks + b] + s_rank[lid], P.n - 1u); // (min: never write past the end, even on bad input)
    keysLoOut[dst] = keysLoIn[i];
    if (HAS_HI) { keysHiOut[dst] = keysHiIn[i]; }
    valsOut[dst] = valsIn[i];
  }
}
