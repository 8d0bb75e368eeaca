// Gives the WebGPU peers (which expect a browser) a navigator.gpu backed by Dawn's Node binding.
import { PeerUnavailableError } from './protocol.js';
import { importPeerPackage } from './session.js';

type WebGpuModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

// Dawn's GPU object must outlive every adapter and device made from it: held for the process's life.
let heldGpu: GPU | undefined;
let writeBufferPatched = false;

/**
 * Dawn rejects writeBuffer data backed by a SharedArrayBuffer, and threaded WebAssembly heaps (what
 * onnxruntime-web hands it) are exactly that: such data is copied into an ordinary buffer first.
 */
function acceptSharedWriteBufferData(queueClass: { prototype: GPUQueue }): void {
  const original = queueClass.prototype.writeBuffer;
  queueClass.prototype.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: GPUAllowSharedBufferSource, dataOffset?: number, size?: number) {
    let copy: GPUAllowSharedBufferSource = data;
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      // Same element type, so dataOffset and size keep their meaning (elements for typed arrays).
      const ctor = data.constructor as new (src: ArrayBufferView) => ArrayBufferView<ArrayBuffer>;
      copy = data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() : new ctor(data);
    } else if (data instanceof SharedArrayBuffer) {
      copy = new Uint8Array(data).slice().buffer;
    }
    return original.call(this, buffer, offset, copy, dataOffset, size);
  } as GPUQueue['writeBuffer'];
}

/** Installs globalThis.navigator.gpu and the WebGPU globals; returns the adapter description. */
export async function installDawnNavigator(): Promise<string> {
  const webgpu = await importPeerPackage<WebGpuModule>('webgpu');
  Object.assign(globalThis, webgpu.globals);
  heldGpu ??= webgpu.create([]);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: heldGpu }, configurable: true, writable: true });
  if (!writeBufferPatched) acceptSharedWriteBufferData(globalThis.GPUQueue);
  writeBufferPatched = true;
  const adapter = await heldGpu.requestAdapter();
  if (!adapter) throw new PeerUnavailableError('no WebGPU adapter (Dawn found no Vulkan/Metal/D3D device)');
  const info = adapter.info;
  return [info.vendor, info.device || info.description].filter(Boolean).join(' ') || 'unknown adapter';
}
