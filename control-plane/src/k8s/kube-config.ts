// How the control plane finds its API server: the pod's service account in a cluster, or a kubeconfig file.
import { KubeConfig } from '@kubernetes/client-node';
import { err, ok, type Result } from '@tsmesh/proto';

export type KubeConfigSource = { from: 'in-cluster' } | { from: 'file'; path: string };

export function loadKubeConfig(source: KubeConfigSource): Result<KubeConfig, string> {
  const config = new KubeConfig();
  if (source.from === 'in-cluster') {
    // The client would otherwise build "https://undefined:undefined" and fail on the first request.
    if (!process.env['KUBERNETES_SERVICE_HOST'] || !process.env['KUBERNETES_SERVICE_PORT']) {
      return err('--kubernetes: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, so this is not a pod; outside a cluster use --kubeconfig FILE');
    }
    config.loadFromCluster();
    return ok(config);
  }
  try {
    config.loadFromFile(source.path);
  } catch (error) {
    return err(`--kubeconfig: cannot load ${source.path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!config.getCurrentCluster()) return err(`--kubeconfig: ${source.path} has no current context with a cluster; set current-context`);
  return ok(config);
}
