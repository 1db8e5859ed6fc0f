import type { Rng } from '../../core/rng';
import type { EditableScene } from '../scenes/editable';
import type { EditConfig } from './edit-config';
import type { EditView } from './edit-views';
import { drawSamples } from './samples';

/** NeRF-Insert's preservation weights: W · (OPACITY·MSE(opacity) + RGB·MSE(rgb)), W = EditConfig.preserveWeight. */
export const PRESERVE_WEIGHTS = { opacity: 100, rgb: 10 } as const;

/**
 * NeRF-Insert preservation (Sabat et al., 2024), when enabled: W·(100·MSE(opacity) + 10·MSE(rgb)) against the
 * frozen source render on pixels outside the masks, a `preserveFraction` share of the step's samples. Adds
 * its gradient; returns the term's value.
 */
export async function preservationLoss(scene: EditableScene, views: EditView[], cfg: EditConfig, rng: Rng): Promise<number> {
  const n = Math.round(cfg.raysPerStep * cfg.preserveFraction);
  if (!(cfg.preserveWeight > 0) || !n) return 0;
  const withOutside = views.filter((v) => v.mask && v.outside.length > 0);
  if (!withOutside.length) return 0;
  // scale·(MSE(rgb) + k·MSE(α)) with scale = W·10, k = 100/10
  const scale = cfg.preserveWeight * PRESERVE_WEIGHTS.rgb,
    alphaWeight = PRESERVE_WEIGHTS.opacity / PRESERVE_WEIGHTS.rgb;
  const samples = drawSamples(
    scene,
    withOutside,
    n,
    rng,
    (v) => v.outside,
    (v) => v.source,
    (v) => v.sourceAlpha,
  );
  return scale * (await scene.addLoss(samples, { scale, photometric: 'mse', alphaWeight }));
}
