import { useEffect, useRef } from 'react';
import { useFrame, useThree } from '@react-three/fiber';
import { Box3, Vector3 } from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { useViewerStore } from '../state/viewer-store';
import { sceneBounds } from '../three/scene-bounds';
import { flyStep, FLY_KEYS, isTyping } from '../three/fly';

/**
 * Orbit controls (three's OrbitControls: drag to orbit, right-drag to pan, wheel to zoom), fly keys (WASD/QE or
 * arrows, Shift for speed) and fit-to-view whenever the store asks for it.
 */
export function ViewerControls() {
  const camera = useThree((s) => s.camera);
  // the camera is three's mutable object: fit-to-view changes it through the store's getter, not the hook's value
  const getThree = useThree((s) => s.get);
  const dom = useThree((s) => s.gl.domElement);
  const controls = useRef<OrbitControls | null>(null);
  const fitRequest = useViewerStore((s) => s.fitRequest);
  const scene = useViewerStore((s) => s.scene);
  const cams = useViewerStore((s) => s.datasetCameras);
  const orbitEnabled = useViewerStore((s) => s.orbitEnabled);
  useEffect(() => {
    if (controls.current) controls.current.enabled = orbitEnabled;
  }, [orbitEnabled]);

  useEffect(() => {
    const c = new OrbitControls(camera, dom);
    c.enableDamping = true;
    c.dampingFactor = 0.15;
    controls.current = c;
    return () => {
      c.dispose();
      controls.current = null;
    };
  }, [camera, dom]);

  useEffect(() => {
    const c = controls.current;
    if (!c || fitRequest === 0) return;
    const camera = getThree().camera;
    const box = sceneBounds(scene, cams) ?? new Box3(new Vector3(-1, -1, -1), new Vector3(1, 1, 1));
    const center = box.getCenter(new Vector3());
    const radius = Math.max(1e-3, box.getSize(new Vector3()).length() / 2);
    const dir = new Vector3().subVectors(camera.position, c.target);
    if (dir.lengthSq() < 1e-9) dir.set(1, 0.6, 1);
    const fov = 'fov' in camera ? ((camera as { fov: number }).fov * Math.PI) / 180 : Math.PI / 4;
    dir.normalize().multiplyScalar((radius / Math.sin(fov / 2)) * 0.85);
    camera.position.copy(center).add(dir);
    camera.near = radius / 100;
    camera.far = radius * 100;
    camera.updateProjectionMatrix();
    c.target.copy(center);
    c.update();
  }, [fitRequest, getThree, scene, cams]);

  const held = useRef(new Set<string>());
  const shift = useRef(false);
  useEffect(() => {
    const down = (e: KeyboardEvent) => {
      shift.current = e.shiftKey;
      if (!isTyping(e) && FLY_KEYS[e.code]) {
        held.current.add(e.code);
        e.preventDefault();
      }
    };
    const up = (e: KeyboardEvent) => {
      shift.current = e.shiftKey;
      held.current.delete(e.code);
    };
    const clear = () => held.current.clear();
    window.addEventListener('keydown', down);
    window.addEventListener('keyup', up);
    window.addEventListener('blur', clear);
    return () => {
      window.removeEventListener('keydown', down);
      window.removeEventListener('keyup', up);
      window.removeEventListener('blur', clear);
    };
  }, []);

  useFrame((_, dt) => {
    const c = controls.current;
    if (c && held.current.size) flyStep(camera, c.target, held.current, Math.min(dt, 0.1), shift.current);
    c?.update();
  });
  return null;
}
