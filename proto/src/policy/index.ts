// Policy decisions shared by the sidecar (enforcing) and meshctl explain (predicting): routes and authorization.
export { authorize, pathMatches, type AuthzRequest, type AuthzDecision } from './authorization.js';
export { routeTable, defaultPlan, pickBackend, type RouteTable, type RequestView } from './route-table.js';
export { DEFAULT_RETRY, type RetryCondition, type RetryPlan, type FaultPlan, type WeightedBackend, type RoutePlan, type ServiceRef } from './route-plan.js';
