import { readFileSync } from 'node:fs';
import { saveGaussianScene } from '../src/io/scenes/load-gaussian-scene';
import { loadScene } from '../src/io/scenes/load-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { selectGaussianObject } from '../src/edit/regions/select-gaussians';
import { boxRegion } from '../src/edit/regions/regions';
import { cloneGaussians, setColor } from '../src/nerf/gaussian/gaussians';
const s: any = await loadScene('/work/scratch/bench/demo-gaussians', nodeFiles);
const o = JSON.parse(readFileSync('/work/scratch/bench/demo/objects.json', 'utf8'))[0];
const sel = selectGaussianObject(s.gaussians, boxRegion(o.min, o.max));
const g = cloneGaussians(s.gaussians);
let n = 0;
for (let i = 0; i < g.count; i++) {
  const inBox = g.means[3*i] >= o.min[0]-0.05 && g.means[3*i] <= o.max[0]+0.05 && g.means[3*i+2] >= o.min[2]-0.05 && g.means[3*i+2] <= o.max[2]+0.05 && g.means[3*i+1] <= o.max[1]+0.05;
  if (sel.gate[i]) { setColor(g, i, 1, 0, 0); n++; } else if (inBox) setColor(g, i, 0, 1, 0);
}
console.log('selected', n, 'of', g.count);
await saveGaussianScene('/tmp/selviz', g, [1, 1, 1], nodeFiles);
