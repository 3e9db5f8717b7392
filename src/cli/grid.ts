// The square grid the landscape plots evaluate the energy on, made on the GPU.
import * as ebm from '../index.js';

/** [n^2, 2] points over [-extent, extent]^2: row iy * n + ix is (x_ix, y_iy), both ends included. */
export function gridPoints(extent: number, n: number): ebm.Tensor {
  return ebm.tidy(() => {
    const axis = ebm.linspace(-extent, extent, n);
    const xs = axis.reshape([1, n]).expand([n, n]).reshape([n * n, 1]);
    const ys = axis.reshape([n, 1]).expand([n, n]).reshape([n * n, 1]);
    return ebm.concat([xs, ys], 1);
  });
}
