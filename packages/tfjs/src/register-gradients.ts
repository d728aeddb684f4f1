import { importNodeBuiltin, isNode } from '@normbridge/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `@tensorflow/tfjs-core` alone registers neither gradients nor the chained tensor methods
 * (`x.square()`); the union package `@tensorflow/tfjs` imports two side-effect modules for
 * that. Those modules ship only as extensionless ES modules, which a bundler resolves but
 * Node's ESM loader refuses, so in Node a resolve hook scoped to tfjs-core's `dist/` folder
 * adds the `.js` (or `/index.js`) the files leave out. The modules they load register into
 * tfjs's global registries, which every copy of tfjs-core in a process shares.
 */
const HOOK_SOURCE = `
const DIST = '/@tensorflow/tfjs-core/dist/';
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if (specifier.startsWith('.') && parent.includes(DIST) && !/\\.[cm]?js$/.test(specifier)) {
    try {
      return await next(specifier + '.js', context);
    } catch {
      return next(specifier + '/index.js', context);
    }
  }
  return next(specifier, context);
}`;

let registration: Promise<void> | undefined;

/**
 * Registers every tfjs gradient and the chained tensor methods, once per process. Called by
 * `createTfjsEngine`; call it yourself before `tf.grad` if you use the ops without an engine.
 */
export function registerTfjsGradients(): Promise<void> {
  registration ??= register().catch((error: unknown) => {
    registration = undefined; // let a later call try again
    throw error;
  });
  return registration;
}

/** A kernel that has a gradient only when the gradient modules have been loaded. */
const PROBE_KERNEL = 'Square';

async function register(): Promise<void> {
  if (tf.getGradient(PROBE_KERNEL) !== undefined && typeof (tf.Tensor.prototype as { square?: unknown }).square === 'function') {
    return; // Someone (the union package, another engine) already did it.
  }
  if (isNode()) await installNodeResolveHook();
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await import('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js');
}

async function installNodeResolveHook(): Promise<void> {
  const { register: registerHooks } = await importNodeBuiltin<typeof import('node:module')>('node:module');
  registerHooks(`data:text/javascript,${encodeURIComponent(HOOK_SOURCE)}`);
}
