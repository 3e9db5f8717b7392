// Parameter: a leaf tensor that a Module trains (PyTorch's nn.Parameter). It requires grad and
// belongs to its module, not to any tidy scope: it lives until the module (or the caller)
// disposes it.
import { keep, Tensor } from '../tensor/index.js';
import { fmt } from '../tensor/shape.js';

export class Parameter extends Tensor {
  /**
   * A parameter over `data`'s values. Like torch's `nn.Parameter(t)` it shares t's storage
   * (no copy) and is a leaf, cut from any graph t was part of; t stays usable and is still the
   * caller's to dispose (see `Parameter.adopt` to hand it over instead).
   */
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) throw new Error(`Parameter: expected a Tensor, got ${data === null ? 'null' : typeof data}`);
    data.assertAlive('Parameter');
    if (typeof requiresGrad !== 'boolean') throw new Error(`Parameter: requiresGrad must be a boolean, got ${typeof requiresGrad}`);
    super(data.storage.retain(), data.shape, data.dtype);
    this.requiresGrad = requiresGrad;
    // Never disposed by the tidy scope it was made in.
    keep(this);
  }

  /** A parameter over t's storage that takes t's place: t is disposed (its storage lives on). */
  static adopt(t: Tensor, requiresGrad = true): Parameter {
    const p = new Parameter(t, requiresGrad);
    t.dispose();
    return p;
  }

  override toString(): string {
    return `Parameter(shape=${fmt(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? '' : ', requiresGrad=false'}${this.isDisposed ? ', disposed' : ''})`;
  }
}
