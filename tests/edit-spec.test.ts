import { describe, expect, it } from 'vitest';
import { blocksCameras } from './helpers/edit-fixtures';
import { UserError } from '../src/core/errors';
import { cameraExtent } from '../src/core/camera';
import { buildEditSpec, EDIT_DEFAULTS, settingsDifference, specSettings, viewerEditOptions } from '../src/edit/loops/edit-spec';
import { editLog } from '../src/edit/loops/edit-log';
import { initialLoopState } from '../src/edit/loops/loop-state';
import { boxRegion, sphereRegion } from '../src/edit/regions/regions';

const cams = blocksCameras(24);
const region = boxRegion([0.1, -0.6, -0.6], [0.9, 0.6, 0.6]);

describe('edit spec', () => {
  it('fills every default in one place, per scene kind and method', () => {
    const idu = buildEditSpec({ instruction: 'make it red' }, { kind: 'voxel', cameras: cams });
    expect(idu.config).toMatchObject({ method: 'idu', iters: 300, textScale: 7.5, imageScale: 1.5, preserveWeight: 0 });
    expect(idu.config.idu).toMatchObject({ editEvery: 10, tMin: 0.02, tMax: 0.98, steps: 20, mode: 'one' });
    expect(idu.config.idu.editCount).toBe(1); // 3 views over 30 rounds: one view per round edits each about twice
    expect(idu.editable.voxel.pearsonWeight).toBe(0);
    const sds = buildEditSpec({ instruction: 'make it red', method: 'sds', tMax: 0.8 }, { kind: 'voxel', cameras: cams });
    expect(sds.editable.voxel.pearsonWeight).toBe(0); // Vox-E's term is for shape edits: --pearson 200
    expect(sds.config.sds.schedule).toMatchObject({ tMin: 0.02, tMax: 0.8, weighting: 'uniform' });
    expect(sds.config.sds).toMatchObject({ lambda: 6, steps: 1, levels: 1 });
    const voxe = buildEditSpec(
      { instruction: 'make it red', method: 'sds', pearson: 200, weighting: 'sds', sdsSteps: 8 },
      { kind: 'voxel', cameras: cams },
    );
    expect(voxe.editable.voxel.pearsonWeight).toBe(200);
    expect(voxe.config.sds.schedule.weighting).toBe('sds');
    expect(voxe.config.sds.steps).toBe(8);
    const gs = buildEditSpec({ instruction: 'x', iters: 100 }, { kind: 'gaussians', cameras: cams });
    expect(gs.config.preserveWeight).toBe(10);
    expect(gs.editable.gaussians).toMatchObject({ densify: true, densifyEvery: 100, densifyUntil: 50, densifyGradThreshold: 0.0002 });
    expect(gs.editable.gaussians.extent).toBeCloseTo(cameraExtent(cams).radius, 10); // 3DGS: from the cameras
    expect(buildEditSpec({ instruction: 'x', densifyEvery: 0 }, { kind: 'gaussians', cameras: cams }).editable.gaussians.densify).toBe(
      false,
    );
  });

  it("idu mode 'all' takes Instruct-GS2GS's settings unless given", () => {
    const s = buildEditSpec({ instruction: 'x', iduMode: 'all', iters: 90 }, { kind: 'voxel', cameras: cams });
    expect(s.config.textScale).toBe(12.5);
    expect(s.config.idu).toMatchObject({ tMin: 0.7, editEvery: 30 });
    expect(s.config.sds.schedule.tMin).toBe(EDIT_DEFAULTS.sds.schedule.tMin);
    expect(buildEditSpec({ instruction: 'x', iduMode: 'all', textScale: 9 }, { kind: 'voxel', cameras: cams }).config.textScale).toBe(9);
  });

  it('refuses inconsistent options and a region that covers nothing, with one clear line', () => {
    const ctx = { kind: 'voxel' as const, cameras: cams };
    expect(() => buildEditSpec({ instruction: 'x', tMin: 0.9, tMax: 0.5 }, ctx)).toThrow(/t-min \(0.9\) must not exceed t-max \(0.5\)/);
    expect(() => buildEditSpec({ instruction: 'x', sdsLevels: 5 }, ctx)).toThrow(UserError);
    expect(() => buildEditSpec({ instruction: '  ' }, ctx)).toThrow(/instruction is empty/);
    expect(() => buildEditSpec({ instruction: 'x' }, { ...ctx, region: sphereRegion([5, 5, 5], 0.01) })).toThrow(
      /covers \(almost\) nothing in every training view/,
    );
    expect(buildEditSpec({ instruction: 'x' }, { ...ctx, region }).activeViews).toBe(3);
  });

  it("the viewer's settings: two edits per view, one view per round, no dynamic scaling, checkpoints", () => {
    const o = viewerEditOptions({ instruction: 'x', method: 'sds', iters: 120, views: 8, raysPerStep: 1024, tMin: 0.7, tMax: 0.98 });
    const s = buildEditSpec(o, { kind: 'gaussians', cameras: cams });
    expect(s.config.idu).toMatchObject({ editEvery: 7, editCount: 1 });
    expect(s.config.sds.levels).toBe(0);
    expect(s.config.sds.schedule).toMatchObject({ tMin: 0.7, tMax: 0.98 });
    expect(s.config.checkpointEvery).toBe(10);
    expect(s.config.preserveWeight).toBe(10);
  });

  it('names the first setting a resumed run would change', () => {
    const a = buildEditSpec({ instruction: 'x', seed: 3 }, { kind: 'voxel', cameras: cams });
    const b = buildEditSpec({ instruction: 'x', seed: 3, textScale: 9 }, { kind: 'voxel', cameras: cams });
    expect(settingsDifference(specSettings(a), specSettings(a))).toBeNull();
    expect(settingsDifference(specSettings(a), specSettings(b))).toBe('textScale (7.5, now 9)');
    const c = buildEditSpec({ instruction: 'x', seed: 3, dilate: 4 }, { kind: 'voxel', cameras: cams });
    expect(settingsDifference(JSON.parse(JSON.stringify(specSettings(a))), specSettings(c))).toBe('dilatePx (null, now 4)');
  });

  it('the edit log names the instruction, model, every setting and region; a finished run adds times and the scene', () => {
    const spec = buildEditSpec(
      { instruction: 'make it red', method: 'sds', seed: 4, pearson: 200 },
      { kind: 'voxel', cameras: cams, region },
    );
    const running = editLog(spec, { status: 'running', model: { id: 'builtin' }, region });
    expect(running).toMatchObject({
      status: 'running',
      instruction: 'make it red',
      method: 'sds',
      seed: 4,
      model: { id: 'builtin' },
      region: { text: region.text, kind: 'box' },
      settings: { textScale: 7.5, editable: { pearsonWeight: 200 }, dilatePx: 'auto (2% of the image side)', backend: 'cpu' },
    });
    const state = { ...initialLoopState(spec.config, cams), viewsEdited: 7, editorMs: 1000, refitMs: 2000, renderMs: 1000 };
    const done = editLog(spec, {
      status: 'done',
      model: { id: 'builtin' },
      region,
      result: { state, scene: { kind: 'gaussians', gaussians: null!, background: [1, 1, 1], log: { gaussians: { before: 1, after: 2 } } } },
    });
    expect(done).toMatchObject({
      status: 'done',
      viewsEdited: 7,
      steps: 300,
      gaussians: { before: 1, after: 2 },
      times: { editorSeconds: 1 },
    });
    expect((done.times as { stepsPerSecond: number }).stepsPerSecond).toBeCloseTo(75, 6);
  });
});
