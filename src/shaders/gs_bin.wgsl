// Gaussian splatting — tile binning after the depth sort (see gs_project.wgsl for the flow).
// Prepended with gs_common.wgsl.
// gather_counts: offsets[k] = touched[order[k]] (k < count) and offsets[count] = 0; the host exclusive-scans it, so
//                offsets[k] is the first slot of the k-th nearest Gaussian and offsets[count] the number of entries.
// duplicate:     one thread per depth rank k → for each tile covered by Gaussian order[k] (row-major inside its
//                rectangle) key = tile id, value = Gaussian id. Entries are in depth order, so a stable sort by tile
//                id gives each tile's Gaussians front to back (ties by index: the CPU twin's order).
// tile_ranges:   one thread per sorted entry → ranges[2t], ranges[2t+1] = [start, end) of tile t (host zeroes it).

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> proj: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> touched: array<u32>;
@group(0) @binding(4) var<storage, read_write> offsets: array<u32>;
@group(0) @binding(5) var<storage, read_write> keys: array<u32>;
@group(0) @binding(6) var<storage, read_write> values: array<u32>;
@group(0) @binding(7) var<storage, read_write> ranges: array<u32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn gather_counts(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;
  if (k > cam.count) { return; }
  if (k == cam.count) { offsets[k] = 0u; return; }
  offsets[k] = touched[order[k]];
}

@compute @workgroup_size(WG)
fn duplicate(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;
  if (k >= cam.count) { return; }
  let i = order[k];
  let p0 = proj[4u * i];
  if (p0.w <= 0.0) { return; }
  let rect = bitcast<vec4<u32>>(proj[4u * i + 3u]);
  var o = offsets[k];
  let end = offsets[k + 1u];
  for (var y = rect.y; y < rect.w; y++) {
    for (var x = rect.x; x < rect.z; x++) {
      if (o >= end) { return; }
      keys[o] = y * cam.tilesX + x;
      values[o] = i;
      o++;
    }
  }
}

@compute @workgroup_size(WG)
fn tile_ranges(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;
  let n = offsets[cam.count];
  if (k >= n) { return; }
  let tile = keys[k];
  if (k == 0u || keys[k - 1u] != tile) { ranges[2u * tile] = k; }
  if (k == n - 1u || keys[k + 1u] != tile) { ranges[2u * tile + 1u] = k + 1u; }
}
