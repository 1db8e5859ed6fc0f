import { Matrix4, PerspectiveCamera, Quaternion, Vector3, WebGPUCoordinateSystem, type CoordinateSystem } from 'three';
import type { Camera } from '../../core/camera';

/**
 * A three.js camera that sees exactly what the project's pinhole `Camera` sees (same c2w, focal lengths and
 * principal point; no distortion): pixel (x, y) of a render matches pixel (x, y) of the CPU renderer.
 */
export function threeCameraFrom(
  cam: Camera,
  coordinateSystem: CoordinateSystem = WebGPUCoordinateSystem,
  near = 0.01,
  far = 1000,
): PerspectiveCamera {
  const c = new PerspectiveCamera((2 * Math.atan(cam.height / (2 * cam.fy)) * 180) / Math.PI, cam.width / cam.height, near, far);
  c.coordinateSystem = coordinateSystem;
  const m = new Matrix4().fromArray(Array.from(cam.c2w));
  const p = new Vector3(),
    q = new Quaternion(),
    s = new Vector3();
  m.decompose(p, q, s);
  c.position.copy(p);
  c.quaternion.copy(q);
  c.updateMatrixWorld(true);
  setIntrinsics(c, cam, near, far);
  return c;
}

/** Sets the projection from intrinsics (off-centre principal points included). */
export function setIntrinsics(c: PerspectiveCamera, cam: Camera, near = c.near, far = c.far): void {
  const left = (-cam.cx * near) / cam.fx,
    right = ((cam.width - cam.cx) * near) / cam.fx;
  const top = (cam.cy * near) / cam.fy,
    bottom = (-(cam.height - cam.cy) * near) / cam.fy;
  c.projectionMatrix.makePerspective(left, right, top, bottom, near, far, c.coordinateSystem);
  c.projectionMatrixInverse.copy(c.projectionMatrix).invert();
}

/** The project's camera for a three.js perspective camera rendered at width × height. */
export function cameraFromThree(c: PerspectiveCamera, width: number, height: number): Camera {
  c.updateMatrixWorld(true);
  const P = c.projectionMatrix.elements;
  const fx = (P[0] * width) / 2,
    fy = (P[5] * height) / 2;
  const cx = ((1 - P[8]) * width) / 2,
    cy = ((1 + P[9]) * height) / 2;
  return { width, height, fx, fy, cx, cy, c2w: Float32Array.from(c.matrixWorld.elements) };
}
