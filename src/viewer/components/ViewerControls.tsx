import { useEffect, useRef } from 'react';
import { useFrame, useThree } from '@react-three/fiber';
import { Box3, Vector3 } from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { useViewerStore } from '../state/viewer-store';
import { sceneBounds } from '../three/scene-bounds';

/** Orbit controls (three's OrbitControls) and fit-to-view whenever the store asks for it. */
export function ViewerControls() {
  const camera = useThree((s) => s.camera);
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
  }, [fitRequest, camera, scene, cams]);

  useFrame(() => controls.current?.update());
  return null;
}
