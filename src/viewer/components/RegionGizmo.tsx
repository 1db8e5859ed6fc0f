import { useEffect, useMemo } from 'react';
import { useThree } from '@react-three/fiber';
import { BoxGeometry, EdgesGeometry, LineBasicMaterial, LineSegments } from 'three';
import { TransformControls } from 'three/examples/jsm/controls/TransformControls.js';
import { useEditStore } from '../state/edit-store';
import { useViewerStore } from '../state/viewer-store';

/**
 * The edit region as a 3D box gizmo: a wireframe box with three's TransformControls (move / scale); dragging it
 * updates the edit store's region and pauses the orbit controls meanwhile.
 */
export function RegionGizmo() {
  const enabled = useEditStore((s) => s.regionEnabled);
  const mode = useEditStore((s) => s.gizmoMode);
  const region = useEditStore((s) => s.region);
  const locked = useEditStore((s) => s.status !== 'idle');
  const camera = useThree((s) => s.camera);
  const dom = useThree((s) => s.gl.domElement);
  const scene = useThree((s) => s.scene);
  const box = useMemo(() => {
    const l = new LineSegments(new EdgesGeometry(new BoxGeometry(1, 1, 1)), new LineBasicMaterial({ color: 0xffcc00 }));
    l.name = 'edit-region';
    l.userData.isHelper = true;
    return l;
  }, []);
  // the box follows the store
  useEffect(() => {
    box.position.set((region.min[0] + region.max[0]) / 2, (region.min[1] + region.max[1]) / 2, (region.min[2] + region.max[2]) / 2);
    box.scale.set(
      Math.max(1e-4, region.max[0] - region.min[0]),
      Math.max(1e-4, region.max[1] - region.min[1]),
      Math.max(1e-4, region.max[2] - region.min[2]),
    );
  }, [box, region]);
  useEffect(() => {
    if (!enabled) return;
    scene.add(box);
    const tc = new TransformControls(camera, dom);
    tc.attach(box);
    tc.setMode(mode);
    tc.enabled = !locked;
    const helper = tc.getHelper();
    helper.userData.isHelper = true;
    scene.add(helper);
    const onDrag = (e: { value: unknown }) => useViewerStore.getState().setOrbitEnabled(!e.value);
    const onChange = () => {
      const p = box.position,
        s = box.scale;
      useEditStore.getState().set({
        region: {
          min: [p.x - Math.abs(s.x) / 2, p.y - Math.abs(s.y) / 2, p.z - Math.abs(s.z) / 2],
          max: [p.x + Math.abs(s.x) / 2, p.y + Math.abs(s.y) / 2, p.z + Math.abs(s.z) / 2],
        },
      });
    };
    tc.addEventListener('dragging-changed', onDrag as never);
    tc.addEventListener('objectChange', onChange);
    return () => {
      tc.removeEventListener('dragging-changed', onDrag as never);
      tc.removeEventListener('objectChange', onChange);
      tc.detach();
      scene.remove(helper);
      scene.remove(box);
      tc.dispose();
      useViewerStore.getState().setOrbitEnabled(true);
    };
  }, [enabled, mode, locked, camera, dom, scene, box]);
  return null;
}
