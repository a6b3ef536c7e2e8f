// The inbound request path, built in one place: reading this function is reading the architecture.
import { compose } from '../pipeline/layer.js';
import { appHandler, type AppTarget } from './http/app.js';
import { authnLayer } from './http/authn.js';
import { authzLayer, type InboundPolicySource } from './http/authz.js';
import type { AppResponse, InboundHandler, InboundRequest } from './http/types.js';

export function buildInboundStack(app: AppTarget, policies: InboundPolicySource): InboundHandler {
  return compose<InboundRequest, AppResponse>(
    // First: every later decision (authz, rate limits per caller) is about who the verified peer is.
    authnLayer(),
    // Then policy, by that identity: a refused caller costs no rate-limit token and no app work.
    authzLayer(policies),
    // Rate limit and load shedding go here, in that order, before any work reaches the app.
  )(
    // Last: the app on localhost, over pooled keep-alive HTTP/1.1.
    appHandler(app),
  );
}
