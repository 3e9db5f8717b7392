// Flatten: torch.nn.Flatten(start_dim = 1, end_dim = -1), a view.
import { Tensor } from '../../tensor/index.js';
import { Module } from '../module.js';

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
    for (const [name, v] of [['startDim', startDim], ['endDim', endDim]] as const)
      if (!Number.isInteger(v)) throw new Error(`Flatten: ${name} must be an integer, got ${String(v)}`);
  }

  override forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw new Error(`Flatten: expected a Tensor input, got ${x === null ? 'null' : typeof x}`);
    return x.flatten(this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}
