// rcae-webgpu in a browser: the platform-neutral core (navigator.gpu, fetch, Blob) plus image
// decoding on a canvas. The bundled default model is fetched from models/ beside the page.
export * from '../core.js';
export { decodeImage, imageTensor, MAX_BROWSER_PIXELS, type DecodedImage } from './canvas-decode.js';
