import { useEffect } from 'react';
import { useThree } from '@react-three/fiber';
import { RenderTarget, type WebGPURenderer } from 'three/webgpu';
import type { Camera } from '../../core/camera';
import { threeCameraFrom, setIntrinsics } from '../three/camera-convert';
import { useViewerStore } from '../state/viewer-store';
import { editLogs } from '../state/history-store';
import type { PerspectiveCamera } from 'three';

export interface RenderedPixels {
  width: number;
  height: number;
  /** RGBA bytes, row-major, top row first (the project's image order). */
  rgba: number[];
}

/**
 * `window.__instructScene`: a small automation surface for the browser tests and for scripting the viewer
 * (read-only inspection plus rendering a given camera). Installed while the canvas lives.
 */
export interface InstructSceneHook {
  /** Backend in use, scene kind/size, and how many frames have been drawn. */
  info(): {
    backend: string | null;
    fallbackReason: string | null;
    scene: string | null;
    count: number;
    cameras: number;
    frames: number;
    error: string | null;
    sorter: string | null;
    /** The current scene's background colour. */
    background: number[] | null;
    /** Every busy message shown since the page loaded (progress lines included). */
    busyLog: string[];
    /** Splat frames whose records were recomputed (view changed) and frames that drew the previous ones again. */
    splatFrames: { computed: number; reused: number } | null;
  };
  /** Renders `cam` (the project's Camera JSON) off-screen and returns its pixels (scene content only, no helpers). */
  renderPixels(cam: Camera): Promise<RenderedPixels>;
  /** Moves the on-screen view to `cam` (position, orientation and field of view). */
  setCamera(cam: Camera): void;
  /** Edit logs of the applied edit operations, oldest first. */
  editLogs(): Record<string, unknown>[];
  /** The generated shaders of the first scene object with a node material (debugging aid). */
  shaderSource(): Promise<{ vertexShader: string; fragmentShader: string } | null>;
}

declare global {
  interface Window {
    __instructScene?: InstructSceneHook;
  }
}

export function TestHook() {
  const gl = useThree((s) => s.gl) as unknown as WebGPURenderer;
  const scene = useThree((s) => s.scene);
  const camera = useThree((s) => s.camera) as PerspectiveCamera;
  const invalidate = useThree((s) => s.invalidate);
  useEffect(() => {
    let frames = 0;
    let raf = 0;
    const tick = () => {
      frames++;
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    const busyLog: string[] = [];
    const unsubscribe = useViewerStore.subscribe((st, prev) => {
      if (st.busy && st.busy !== prev.busy) busyLog.push(st.busy);
    });
    const hook: InstructSceneHook = {
      info() {
        const s = useViewerStore.getState();
        const sc = s.scene;
        const count = !sc
          ? 0
          : sc.kind === 'gaussians'
            ? sc.splats.count
            : sc.kind === 'mesh'
              ? sc.mesh.positions.length / 3
              : sc.grid.density.length;
        let sorter: string | null = null;
        let splatFrames: { computed: number; reused: number } | null = null;
        scene.traverse((o) => {
          if ((o as { isSplatMesh?: boolean }).isSplatMesh) {
            const m = o as unknown as { lastSorter: string; sortCount: number; reuseCount: number };
            sorter = m.lastSorter;
            splatFrames = { computed: m.sortCount, reused: m.reuseCount };
          }
        });
        return {
          backend: s.backend,
          fallbackReason: s.fallbackReason,
          scene: s.scene ? `${s.scene.kind}:${s.scene.name}` : null,
          count,
          cameras: s.datasetCameras.length,
          frames,
          error: s.error,
          sorter,
          background: s.scene ? Array.from(s.scene.background) : null,
          busyLog: busyLog.slice(),
          splatFrames,
        };
      },
      async renderPixels(cam) {
        const c = threeCameraFrom(cam, gl.coordinateSystem);
        const rt = new RenderTarget(cam.width, cam.height);
        const prev = gl.getRenderTarget();
        // only the scene content: helpers (region gizmo, camera frustums) are hidden for the off-screen render
        const hidden: import('three').Object3D[] = [];
        scene.traverse((o) => {
          if (o.userData.isHelper && o.visible) hidden.push(o);
        });
        for (const o of hidden) o.visible = false;
        try {
          gl.setRenderTarget(rt);
          gl.render(scene, c);
        } finally {
          gl.setRenderTarget(prev);
          for (const o of hidden) o.visible = true;
        }
        const px = (await gl.readRenderTargetPixelsAsync(rt, 0, 0, cam.width, cam.height)) as Uint8Array;
        rt.dispose();
        const isWebGL = (gl.backend as unknown as { isWebGLBackend?: boolean }).isWebGLBackend === true;
        let rows = px;
        if (isWebGL) {
          // WebGL reads bottom row first
          rows = new Uint8Array(px.length);
          const stride = cam.width * 4;
          for (let y = 0; y < cam.height; y++) rows.set(px.subarray((cam.height - 1 - y) * stride, (cam.height - y) * stride), y * stride);
        }
        return { width: cam.width, height: cam.height, rgba: Array.from(rows) };
      },
      editLogs() {
        return editLogs();
      },
      async shaderSource() {
        let obj: import('three').Object3D | null = null;
        scene.traverse((o) => {
          if (!obj && (o as { isSplatMesh?: boolean }).isSplatMesh) obj = o;
        });
        if (!obj) return null;
        return gl.debug.getShaderAsync(scene, camera, obj) as Promise<{ vertexShader: string; fragmentShader: string }>;
      },
      setCamera(cam) {
        const c = threeCameraFrom(cam, gl.coordinateSystem);
        camera.position.copy(c.position);
        camera.quaternion.copy(c.quaternion);
        camera.fov = c.fov;
        camera.updateProjectionMatrix();
        if (Math.abs(cam.cx - cam.width / 2) > 1e-3 || Math.abs(cam.cy - cam.height / 2) > 1e-3) setIntrinsics(camera, cam);
        invalidate();
      },
    };
    window.__instructScene = hook;
    return () => {
      cancelAnimationFrame(raf);
      unsubscribe();
      if (window.__instructScene === hook) delete window.__instructScene;
    };
  }, [gl, scene, camera, invalidate]);
  return null;
}
