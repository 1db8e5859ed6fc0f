// Gaussian splatting — duplication with (tile, depth) keys and tile ranges (see gs_project.wgsl for the flow).
// Prepended with gs_common.wgsl.

@group(0) @binding(0) var<uniform> cam: Cam;
@group(0) @binding(1) var<storage, read> proj: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read_write> keysHi: array<u32>;
@group(0) @binding(4) var<storage, read_write> keysLo: array<u32>;
@group(0) @binding(5) var<storage, read_write> values: array<u32>;
@group(0) @binding(6) var<storage, read_write> ranges: array<u32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn duplicate(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= cam.count) { return; }
  let p0 = proj[4u * i];
  if (p0.w <= 0.0) { return; }
  let rect = bitcast<vec4<u32>>(proj[4u * i + 3u]);
  var o = offsets[i];
  let end = offsets[i + 1u];
  let depthBits = bitcast<u32>(p0.z);
  for (var y = rect.y; y < rect.w; y++) {
    for (var x = rect.x; x < rect.z; x++) {
      if (o >= end) { return; }
      keysHi[o] = y * cam.tilesX + x;
      keysLo[o] = depthBits;
      values[o] = i;
      o++;
    }
  }
}

// total entries in offsets[cam.count]
@compute @workgroup_size(WG)
fn tile_ranges(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;
  let n = offsets[cam.count];
  if (k >= n) { return; }
  let tile = keysHi[k];
  if (k == 0u || keysHi[k - 1u] != tile) { ranges[2u * tile] = k; }
  if (k == n - 1u || keysHi[k + 1u] != tile) { ranges[2u * tile + 1u] = k + 1u; }
}
