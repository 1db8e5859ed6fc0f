import { describe, expect, it } from 'vitest';
import { PerspectiveCamera, Vector3 } from 'three';
import { flyStep } from '../src/viewer/three/fly';

function cam() {
  const c = new PerspectiveCamera(50, 1, 0.01, 100);
  c.position.set(0, 0, 5);
  c.lookAt(0, 0, 0);
  c.updateMatrixWorld();
  return c;
}

describe('fly keys (viewer camera)', () => {
  it('W moves camera and orbit target forward together, by a speed that scales with the view distance', () => {
    const c = cam(),
      target = new Vector3(0, 0, 0);
    expect(flyStep(c, target, new Set(['KeyW']), 0.1)).toBe(true);
    expect(c.position.z).toBeCloseTo(4.5, 6); // 5 units away × 0.1 s
    expect(target.z).toBeCloseTo(-0.5, 6);
    expect(c.position.x).toBeCloseTo(0, 6);
  });
  it('A/D strafe, E/Q rise and sink, Shift is faster, other keys do nothing', () => {
    const c = cam(),
      target = new Vector3();
    flyStep(c, target, new Set(['KeyD']), 0.1);
    expect(c.position.x).toBeCloseTo(0.5, 6);
    flyStep(c, target, new Set(['KeyE']), 0.1, true);
    expect(c.position.y).toBeCloseTo(2, 6);
    expect(flyStep(c, target, new Set(['KeyZ']), 0.1)).toBe(false);
    const before = c.position.clone();
    flyStep(c, target, new Set(['KeyA', 'KeyD']), 0.1); // opposite keys cancel
    expect(c.position.distanceTo(before)).toBeLessThan(1e-9);
  });
});
