import { writeFileSync } from 'node:fs';
import { encodePng } from '../src/io/images/image-codec';
import { loadScene } from '../src/io/scenes/load-scene';
import { nodeFiles } from '../src/io/node/node-files';
import { lookAtCamera } from '../src/core/camera';
const W = '/work/scratch/bench';
const names = process.argv.slice(2);
const scenes = [];
for (const n of names) scenes.push(await loadScene(n, nodeFiles));
const size = 160, Z = 1;
const cams = [0, 1, 2].map((k) => { const az = k * 2.1 + 0.4; return lookAtCamera([1.3*Math.cos(az), 0.9, 1.3*Math.sin(az)], [0, 0.28, 0], [0, 1, 0], size, size, 40); });
const out = { width: size * cams.length, height: size * scenes.length, channels: 3, data: new Float32Array(size*cams.length*size*scenes.length*3) };
for (let si = 0; si < scenes.length; si++) for (let ci = 0; ci < cams.length; ci++) {
  const r = (await scenes[si].render(cams[ci])).image;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) out.data[((si*size+y)*size*cams.length + ci*size + x)*3+c] = r.data[(y*size+x)*3+c];
}
writeFileSync('/tmp/look.png', encodePng(out));
