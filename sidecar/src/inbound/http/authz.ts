// Authz layer: every request is checked against the AuthorizationPolicies of this service by the verified caller.
import type { InboundPolicy } from '@tsmesh/proto';
import { authorize } from '@tsmesh/proto';
import { ForbiddenError, MtlsRequiredError, PolicyPendingError } from '../../errors.js';
import type { InboundLayer } from './types.js';

export interface InboundPolicySource {
  // undefined until the control plane has sent the first inbound policy.
  current(): InboundPolicy | undefined;
}

export function authzLayer(policies: InboundPolicySource): InboundLayer {
  return (next) => (req) => {
    const policy = policies.current();
    // Zero trust: before the first policy arrives nothing is known to be allowed.
    if (!policy) return Promise.reject(new PolicyPendingError('inbound/authz: no authorization policy received from the control plane yet'));
    const decision = authorize(
      { principal: req.peerId ?? undefined, method: req.method, path: req.path, header: (name) => headerValue(req.headers[name.toLowerCase()]), tcp: req.upgrade === 'tcp' },
      policy.authorizationPolicies,
      policy.meshConfig,
    );
    if (decision.allowed) return next(req);
    if (req.plaintext && decision.reason.startsWith('plaintext')) return Promise.reject(new MtlsRequiredError(`inbound/authz: ${decision.reason}`));
    return Promise.reject(new ForbiddenError(`inbound/authz: ${decision.reason}`));
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
