/**
 * instruct-scene viewer as a library (`npm run build:lib` → dist/lib): React components for R3F apps, the
 * plain three.js objects underneath them, the stores, and the editing API.
 *
 * React (R3F) — put these inside your own `<Canvas>` whose renderer is three's WebGPURenderer:
 *   <SplatScene splats={...} />  <VoxelScene grid={...} />  <MeshView mesh={...} />  <CameraFrustums cameras={...} />
 * or use the whole viewer: <SceneViewer /> (canvas, controls, the store's scene) and <App /> (with panels).
 * Plain three.js — SplatMesh (Gaussians: culled, projected and sorted on the GPU; level of detail for big scenes),
 * VoxelMesh (ray-marched grid), TriangleMesh,
 * createCameraFrustums, createViewerRenderer (WebGPU with the WebGL2 fallback).
 */
export { App } from './app/App';
export { SceneViewer, type SceneViewerProps } from './components/SceneViewer';
export { SplatScene, type SplatSceneProps } from './components/SplatScene';
export { VoxelScene, type VoxelSceneProps } from './components/VoxelScene';
export { MeshView, type MeshViewProps } from './components/MeshView';
export { CameraFrustums } from './components/CameraFrustums';
export { StatsOverlay } from './components/StatsOverlay';
export { EditPanel } from './components/EditPanel';
export { OpenPanel } from './components/OpenPanel';
export { DropZone } from './components/DropZone';

export { SplatMesh, type SplatMeshOptions } from './three/splat-mesh';
export { VoxelMesh, type VoxelMeshOptions } from './three/voxel-mesh';
export { TriangleMesh } from './three/triangle-mesh';
export { packSplats, packSplatFile, type SplatBuffers } from './three/splat-data';
export { createCameraFrustums } from './three/camera-frustums';
export { createViewerRenderer, webGpuProblem, type Backend, type RendererInfo } from './three/renderer';
export { threeCameraFrom, cameraFromThree } from './three/camera-convert';

export { useViewerStore, type ViewerScene, type ViewerState, type RenderMode } from './state/viewer-store';
export { useEditStore, SAMPLE_INSTRUCTION, type EditState } from './state/edit-store';
export { useHistoryStore, editLogs, type EditOperation } from './state/history-store';
export { loadDemoScene, openUserFiles, loadSceneFromUrl } from './state/scene-actions';

// editing API: run edits on the store's scene (worker), or call the loops directly
export { startEdit, pauseEdit, resumeEdit, cancelEdit, updateLiveSettings } from './edit/edit-client';
export type { EditSettings, EditSource, ModelSource, LiveSettings, EditRequest, EditReply } from './edit/edit-protocol';
export { exportScene, type ExportFormat, type ExportOptions } from './io/export-scene';
export { openFiles, type OpenResult } from './io/open-files';
export { MemoryFiles } from './io/memory-files';
export { demoGaussians } from './data/demo-gaussians';
export { demoVoxelGrid } from './data/demo-voxels';
export { runEdit } from '../edit/loops/edit-run';
export { buildEditSpec, EDIT_DEFAULTS, type EditOptions, type EditSpec } from '../edit/loops/edit-spec';
export type { EditConfig } from '../edit/loops/edit-config';
export type { EditEvent } from '../edit/loops/run-loop';
export { openEdit } from '../edit/loops/open-edit';
export { prepareViews, type EditView } from '../edit/loops/edit-views';
export { editLog } from '../edit/loops/edit-log';
export { createEditable, type SceneSource, type EditedScene } from '../edit/scenes/create-editable';
export { GaussianEditable } from '../edit/scenes/gaussian-editable';
export { VoxelEditable } from '../edit/scenes/voxel-editable';
export { InstructPix2Pix } from '../edit/diffusion/pipeline';
export { ip2pPrior } from '../edit/diffusion/ip2p-prior';
export { webRuntime } from '../edit/diffusion/ort-web';
export { loadRemotePipeline, checkModelServer, type RemoteLoadOptions } from '../edit/diffusion/remote/remote-pipeline';
export { RemoteRuntime, type RemoteRuntimeOptions } from '../edit/diffusion/remote/remote-runtime';
export { OipClient, RemoteError } from '../edit/diffusion/remote/oip-client';
export { boxRegion, sphereRegion, type Region } from '../edit/regions/regions';
export { readGaussianPly, writeGaussianPly } from '../io/formats/ply';
export { readSplat, writeSplat } from '../io/formats/splat';
export { decodeVoxelScene, encodeVoxelScene } from '../io/formats/voxel-format';
export { readObj, writeObj } from '../io/formats/obj';
export { readPlyMesh, writePlyMesh } from '../io/formats/ply-mesh';
export { readGltfMesh, writeGlb } from '../io/formats/gltf-mesh';
export { stylizeMesh, meshEditCameras, meshLossCameras, type StylizeOptions, type StylizeResult } from '../edit/loops/mesh-stylize';
export { MeshEditable, type EditedMesh } from '../edit/scenes/mesh-editable';
export type { Mesh } from '../nerf/mesh/mesh';
export type { Gaussians } from '../nerf/gaussian/gaussians';
export type { VoxelGrid } from '../nerf/voxel/voxel-grid';
export type { Camera } from '../core/camera';
