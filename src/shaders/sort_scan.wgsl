// Exclusive prefix sum of a u32 array (work-efficient Blelloch scan), 512 elements per workgroup of 256.
// Multi-level: `scan_blocks` scans each block in place and writes the block total to `sums[block]`; the host
// scans `sums` the same way (recursively) and `add_sums` adds each block's scanned offset back.
// Used by the Gaussian rasteriser (tile counts, radix histograms); see src/gpu/radix-sort.ts.

struct ScanParams { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> P: ScanParams;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> sums: array<u32>;

const WGS: u32 = 256u;
const BLOCK: u32 = 512u;

var<workgroup> tmp: array<u32, 512>;

@compute @workgroup_size(256)
fn scan_blocks(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b * BLOCK >= P.n) { return; } // past the end of a 2D dispatch (workgroup-uniform)
  let i0 = b * BLOCK + lid;
  let i1 = i0 + WGS;
  var v0 = 0u;
  var v1 = 0u;
  if (i0 < P.n) { v0 = data[i0]; }
  if (i1 < P.n) { v1 = data[i1]; }
  tmp[lid] = v0;
  tmp[lid + WGS] = v1;
  // up-sweep (reduce)
  var offset = 1u;
  for (var d = WGS; d > 0u; d = d >> 1u) {
    workgroupBarrier();
    if (lid < d) {
      let ai = offset * (2u * lid + 1u) - 1u;
      let bi = offset * (2u * lid + 2u) - 1u;
      tmp[bi] = tmp[bi] + tmp[ai];
    }
    offset = offset << 1u;
  }
  workgroupBarrier();
  if (lid == 0u) {
    sums[b] = tmp[BLOCK - 1u];
    tmp[BLOCK - 1u] = 0u;
  }
  // down-sweep
  for (var d = 1u; d < BLOCK; d = d << 1u) {
    offset = offset >> 1u;
    workgroupBarrier();
    if (lid < d) {
      let ai = offset * (2u * lid + 1u) - 1u;
      let bi = offset * (2u * lid + 2u) - 1u;
      let t = tmp[ai];
      tmp[ai] = tmp[bi];
      tmp[bi] = tmp[bi] + t;
    }
  }
  workgroupBarrier();
  if (i0 < P.n) { data[i0] = tmp[lid]; }
  if (i1 < P.n) { data[i1] = tmp[lid + WGS]; }
}

@compute @workgroup_size(256)
fn add_sums(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  let s = sums[b];
  let i0 = b * BLOCK + lid;
  let i1 = i0 + WGS;
  if (i0 < P.n) { data[i0] = data[i0] + s; }
  if (i1 < P.n) { data[i1] = data[i1] + s; }
}
