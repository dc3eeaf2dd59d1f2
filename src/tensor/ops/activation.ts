// Pointwise activations with their derivatives in native code.
import { native, UnaryOp } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, allocateOutput } from '../tensor.js';

function activation(name: string, op: number, x: Tensor): Tensor {
  const out = new Tensor(allocateOutput(x.size, x.dtype), x.shape);
  native.unary(op, x.size, x.data, out.data, 0);
  return record(name, out, [x], (g) => {
    const gx = new Tensor(allocateOutput(x.size, x.dtype), x.shape);
    native.activationBackward(op, x.size, x.data, g.data, gx.data);
    return [gx];
  });
}

export const relu = (x: Tensor): Tensor => activation('relu', UnaryOp.relu, x);
/** GPT-2's gelu_new (tanh approximation), also torch's gelu(approximate='tanh'). */
export const gelu = (x: Tensor): Tensor => activation('gelu', UnaryOp.gelu, x);
export const silu = (x: Tensor): Tensor => activation('silu', UnaryOp.silu, x);
export const tanh = (x: Tensor): Tensor => activation('tanh', UnaryOp.tanh, x);
export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', UnaryOp.sigmoid, x);
