// The service's Prometheus metrics (prom-client), in a registry of its own so that two services in one
// process (tests) never share counters. Process metrics (RSS, heap, event-loop lag) come with it.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ServiceMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  latency: Histogram<'route'>;
  batchSize: Histogram;
  forwardSeconds: Histogram;
  deviceLosses: Counter;
}

/** `queueDepth` and `liveBuffers` are read when /metrics is scraped. */
export function serviceMetrics(queueDepth: () => number, liveBuffers: () => number): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({ name: 'rcae_queue_depth', help: 'Samples queued and not yet in a forward pass', registers, collect() { this.set(queueDepth()); } });
  new Gauge({ name: 'rcae_gpu_live_buffers', help: 'GPU buffers the model holds now', registers, collect() { this.set(liveBuffers()); } });
  return {
    registry,
    requests: new Counter({ name: 'rcae_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['route', 'status'], registers }),
    latency: new Histogram({
      name: 'rcae_http_request_duration_seconds', help: 'Time from request to response, by route', labelNames: ['route'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    batchSize: new Histogram({ name: 'rcae_batch_size', help: 'Samples per forward pass', registers, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256] }),
    forwardSeconds: new Histogram({ name: 'rcae_gpu_forward_seconds', help: 'Duration of a forward pass (upload, GPU, readback)', registers, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }),
    deviceLosses: new Counter({ name: 'rcae_device_losses_total', help: 'GPU devices lost (each followed by re-creating the model)', registers }),
  };
}
