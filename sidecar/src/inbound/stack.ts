// The inbound request path, built in one place: reading this function is reading the architecture.
import { compose } from '../pipeline/layer.js';
import { appHandler, type AppTarget } from './http/app.js';
import { authnLayer } from './http/authn.js';
import { authzLayer, type InboundPolicySource } from './http/authz.js';
import { rateLimitLayer } from './http/rate-limit.js';
import { loadShedLayer } from './http/load-shed.js';
import type { LoadShedder } from '../resilience/load-shedder.js';
import type { InboundLayer } from './http/types.js';

export interface InboundStackOptions {
  app: AppTarget;
  policies: InboundPolicySource;
  shedder: LoadShedder;
  // Telemetry slot: sees every request and every refusal below it.
  observer?: InboundLayer;
  onRateLimited?: () => void;
  onShed?: () => void;
}

const passThrough: InboundLayer = (next) => next;
import type { AppResponse, InboundHandler, InboundRequest } from './http/types.js';

export function buildInboundStack(options: InboundStackOptions): InboundHandler {
  return compose<InboundRequest, AppResponse>(
    // Telemetry outermost: a server span and metrics for every request, refused or not.
    options.observer ?? passThrough,
    // First: every later decision (authz, rate limits per caller) is about who the verified peer is.
    authnLayer(),
    // Then policy, by that identity: a refused caller costs no rate-limit token and no app work.
    authzLayer(options.policies),
    // Rate limits per caller and for the service; over the limit is 429 with Retry-After.
    rateLimitLayer(options.policies, options.onRateLimited),
    // Last guard before the app: shed when this sidecar is overloaded, so admitted requests stay fast.
    loadShedLayer(options.shedder, options.onShed),
  )(
    // Last: the app on localhost, over pooled keep-alive HTTP/1.1.
    appHandler(options.app),
  );
}
