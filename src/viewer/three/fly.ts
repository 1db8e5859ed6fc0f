import { Vector3, type Camera } from 'three';

/** Keys that fly the camera (SuperSplat / game style): W/S forward-back, A/D left-right, E/Q up-down; arrows too. */
export const FLY_KEYS: Record<string, [number, number, number]> = {
  KeyW: [0, 0, 1],
  ArrowUp: [0, 0, 1],
  KeyS: [0, 0, -1],
  ArrowDown: [0, 0, -1],
  KeyD: [1, 0, 0],
  ArrowRight: [1, 0, 0],
  KeyA: [-1, 0, 0],
  ArrowLeft: [-1, 0, 0],
  KeyE: [0, 1, 0],
  KeyQ: [0, -1, 0],
};

const fwd = new Vector3(),
  right = new Vector3(),
  up = new Vector3(),
  move = new Vector3();

/**
 * Moves the camera and its orbit target together by the held keys, for `dt` seconds. Speed scales with the
 * distance to the target (so it feels the same on small and large scenes); Shift makes it 4× faster.
 * Returns whether anything moved.
 */
export function flyStep(camera: Camera, target: Vector3, held: ReadonlySet<string>, dt: number, fast = false): boolean {
  move.set(0, 0, 0);
  for (const k of held) {
    const d = FLY_KEYS[k];
    if (d) move.add(up.set(d[0], d[1], d[2]));
  }
  if (move.lengthSq() === 0) return false;
  camera.getWorldDirection(fwd);
  right.crossVectors(fwd, camera.up).normalize();
  up.copy(camera.up).normalize();
  const speed = Math.max(0.05, camera.position.distanceTo(target)) * (fast ? 4 : 1) * dt;
  const delta = new Vector3()
    .addScaledVector(right, move.x)
    .addScaledVector(up, move.y)
    .addScaledVector(fwd, move.z)
    .normalize()
    .multiplyScalar(speed);
  camera.position.add(delta);
  target.add(delta);
  return true;
}

/** True when a key event belongs to a text field (typing an instruction must not fly the camera). */
export function isTyping(e: KeyboardEvent): boolean {
  const t = e.target as { tagName?: string; isContentEditable?: boolean } | null;
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || !!t.isContentEditable);
}
