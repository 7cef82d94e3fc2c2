import { convKernelsWat } from './generate';

/** The generator's module compiled by wabt (a development dependency: used by build.ts and tests). */
export async function compileConvKernels(options: { fma?: boolean } = {}): Promise<Uint8Array> {
  const { default: initWabt } = await import('wabt');
  const wabt = await initWabt();
  const parsed = wabt.parseWat('conv-kernels.wat', convKernelsWat(options), {
    simd: true,
    bulk_memory: true,
    relaxed_simd: options.fma ?? false,
  });
  try {
    parsed.validate();
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}
