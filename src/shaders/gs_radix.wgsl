// Stable LSD radix sort of (key, value) pairs, 4 bits per pass, 256 elements per workgroup.
// Keys are one u32 word (keysLo) or two (keysHi:keysLo, compared as a 64-bit number; HAS_HI). Each pass sorts by
// the digit (word >> shift) & 15 of word `useHi ? hi : lo`:
//   1. `radix_count`: per-block digit histogram into hist[digit * numBlocks + block] (digit-major, so that one
//      exclusive scan of `hist` (gs_scan.wgsl) gives every (digit, block) its first output slot);
//   2. `radix_scatter`: each element goes to hist[digit * numBlocks + block] + its rank among the elements of its
//      block with the same digit and a lower index (stable). The rank comes from one workgroup prefix sum of
//      one-hot digit counters packed as 8-bit fields (16 digits in a vec4<u32>): exclusive counts within a block
//      of 256 are ≤ 255, so the packed sums never carry between fields (the inclusive total may, but
//      inclusive − own is exact in modular u32 arithmetic).
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
var<workgroup> pk0: array<u32, 256>;
var<workgroup> pk1: array<u32, 256>;
var<workgroup> pk2: array<u32, 256>;
var<workgroup> pk3: array<u32, 256>;

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
  // one-hot in field (d & 3) of word d >> 2 (component selects, no dynamic vector indexing)
  let word = d >> 2u;
  let bit = 1u << ((d & 3u) * 8u);
  let own = vec4<u32>(select(0u, bit, word == 0u), select(0u, bit, word == 1u), select(0u, bit, word == 2u), select(0u, bit, word == 3u));
  pk0[lid] = own.x; pk1[lid] = own.y; pk2[lid] = own.z; pk3[lid] = own.w;
  // Hillis–Steele inclusive scan of the packed counters
  for (var off = 1u; off < WGS; off = off << 1u) {
    workgroupBarrier();
    var t = vec4<u32>(pk0[lid], pk1[lid], pk2[lid], pk3[lid]);
    if (lid >= off) { let j = lid - off; t = t + vec4<u32>(pk0[j], pk1[j], pk2[j], pk3[j]); }
    workgroupBarrier();
    pk0[lid] = t.x; pk1[lid] = t.y; pk2[lid] = t.z; pk3[lid] = t.w;
  }
  workgroupBarrier();
  if (valid) {
    let excl = vec4<u32>(pk0[lid], pk1[lid], pk2[lid], pk3[lid]) - own;
    var w = excl.x;
    if (word == 1u) { w = excl.y; } else if (word == 2u) { w = excl.z; } else if (word == 3u) { w = excl.w; }
    let rank = (w >> ((d & 3u) * 8u)) & 255u;
    let dst = min(hist[d * P.numBlocks + b] + rank, P.n - 1u); // (min: never write past the end, even on bad input)
    keysLoOut[dst] = keysLoIn[i];
    if (HAS_HI) { keysHiOut[dst] = keysHiIn[i]; }
    valsOut[dst] = valsIn[i];
  }
}
