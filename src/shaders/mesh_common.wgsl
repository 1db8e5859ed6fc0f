// Shared declarations of the mesh rasteriser kernels (prepended to mesh_project / mesh_raster / mesh_antialias /
// mesh_raster_backward by src/nerf/mesh/mesh-raster-webgpu.ts). Conventions are those of the CPU twin,
// src/nerf/mesh/mesh-raster-cpu.ts: OpenGL camera axes, pixel centres at +0.5, NEAR 1e-4, first-order SH shading
// s = AMBIENT + DIFFUSE·(n·l) with the normal turned towards the camera, z-buffer ties to the lower face index,
// antialiasing of silhouette edges found by walking the front surface (docs/mesh-stylisation.md).
//
// Buffers
// - positions, colors: f32 × 3 per vertex.
// - topo: u32 × 6 per face: its three vertex indices, then the faces across the edges opposite corners 0, 1, 2
//   (NONE on a boundary).
// - screen: vec4 per vertex (u, v, d, w = 1/d; d < NEAR: not drawn).
// - faceInfo: vec2 per face (shading s, sign σ that turned the normal towards the camera; 0 = degenerate).
// - zbuf: u32 per pixel, the f32 bits of the nearest depth (positive floats order as their bits); fid: u32 per
//   pixel, the nearest face (NONE = background); pix: vec2<u32> per pixel, (fid, depth bits) once resolved.
// - pre: vec4 per pixel, colour and coverage before antialiasing; out: vec4 per pixel after.
// At most 8 storage buffers per kernel (WebGPU's guaranteed limit), hence the packed buffers.

const NEAR: f32 = 1e-4;
const NONE: u32 = 0xffffffffu;
const MAX_WALK: u32 = 64u;

struct Cam {
  ax: vec4<f32>,     // camera axes in world coordinates (columns of c2w's rotation); .w unused
  ay: vec4<f32>,
  az: vec4<f32>,
  o: vec4<f32>,      // camera centre
  light: vec4<f32>,  // light direction (world)
  bg: vec4<f32>,     // background rgb
  fx: f32,
  fy: f32,
  cx: f32,
  cy: f32,
  width: u32,
  height: u32,
  nv: u32,
  nf: u32,
  ambient: f32,
  diffuse: f32,
  _p0: u32,
  _p1: u32,
}

fn edge_fn(a: vec2<f32>, b: vec2<f32>, p: vec2<f32>) -> f32 {
  return (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
}

// float add on a u32 bit pattern (WGSL has no float atomics): compare-and-swap loop; the caller passes the array
// element through a macro-like per-file wrapper (pointer parameters to storage are not portable WGSL)
