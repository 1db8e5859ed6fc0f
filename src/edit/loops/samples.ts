import type { Image } from '../../core/image';
import { sampleRays, subsamplePixels } from '../../core/ray-samples';
import type { Rng } from '../../core/rng';
import type { EditableScene, LossSamples } from '../scenes/editable';
import type { EditView } from './edit-views';

/**
 * Draws one step's samples for a scene, the way the scene takes them (the one place that reads
 * `EditableScene.sampling`): ray scenes get `count` rays spread over `views` (a view, then a pixel of
 * `pick(view)`, per ray); view scenes get one view drawn uniformly and `count` of its `pick(view)` pixels
 * (all of them when there are fewer). Targets from `target(view)`, opacity targets from `alpha(view)`.
 */
export function drawSamples(
  scene: Pick<EditableScene, 'sampling'>,
  views: EditView[],
  count: number,
  rng: Rng,
  pick: (v: EditView) => Uint32Array,
  target: (v: EditView) => Image,
  alpha?: (v: EditView) => Float32Array,
): LossSamples {
  if (scene.sampling === 'rays') return { kind: 'rays', rays: sampleRays(views, count, rng, pick, target, alpha) };
  const v = views[rng.int(views.length)];
  const s: LossSamples = { kind: 'view', camera: v.camera, pixels: subsamplePixels(pick(v), count, rng), target: target(v) };
  if (alpha) s.targetAlpha = alpha(v);
  return s;
}
