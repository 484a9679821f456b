import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../src/config/load-config.js';
import { runCommand } from '../helpers/clients.js';
import { ROOT } from '../helpers/cli-process.js';

// Every overlay in deploy/kubernetes/overlays is rendered with `kubectl kustomize` (Debian's
// kubernetes-client, installed by scripts/install-test-deps.sh; the kustomization is written for
// kustomize 2.0 to 5.x) and every object validated offline: against the Kubernetes OpenAPI
// schemas (kubernetes-models: types, required fields, enums, formats), for unknown fields (the
// TypeScript compiler's excess-property check against the same models' types), and for what
// a Portcullis fleet needs (probes, drain, shared CA, hot-reloaded policy, egress policy).

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: unknown };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered YAML, checked below
type Any = any;

const OVERLAYS = path.join(ROOT, 'deploy', 'kubernetes', 'overlays');
const hasKubectl = (): boolean => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const kubectl = hasKubectl();
const overlays = readdirSync(OVERLAYS).sort();

const render = async (overlay: string): Promise<Manifest[]> => {
  const result = await runCommand('kubectl', ['kustomize', path.join(OVERLAYS, overlay)], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  return parseAllDocuments(result.stdout).map((doc) => {
    assert.deepEqual(doc.errors, []);
    return doc.toJS() as Manifest;
  });
};

/** kubernetes-models' module for an apiVersion: "v1", "apps/v1", "networking.k8s.io/v1". */
const modelFor = async (manifest: Manifest): Promise<new (data: unknown) => { validate(): void }> => {
  const models = (await import(`kubernetes-models/${manifest.apiVersion}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const model = models[manifest.kind];
  assert.ok(model, `no schema for ${manifest.apiVersion} ${manifest.kind}`);
  return model;
};

test('every overlay renders with kubectl kustomize, and every object is valid against the Kubernetes schemas with no unknown field', { skip: !kubectl && 'kubectl missing: run scripts/install-test-deps.sh', timeout: 180_000 }, async () => {
  assert.ok(overlays.length >= 2);
  const checkDir = path.join(ROOT, 'build', 'kubernetes-typecheck');
  rmSync(checkDir, { recursive: true, force: true });
  mkdirSync(checkDir, { recursive: true });
  const lines: string[] = [];
  for (const overlay of overlays) {
    const manifests = await render(overlay);
    for (const [index, manifest] of manifests.entries()) {
      const Model = await modelFor(manifest);
      try {
        new Model(manifest).validate();
      } catch (error) {
        assert.fail(`${overlay}: ${manifest.kind}/${manifest.metadata.name}: ${(error as Error).message}`);
      }
      const typeName = `I${manifest.kind}`;
      lines.push(`import type { ${typeName} as T_${overlay}_${index} } from 'kubernetes-models/${manifest.apiVersion}/${manifest.kind}';`);
      lines.push(`export const m_${overlay}_${index}: T_${overlay}_${index} = ${JSON.stringify(manifest)};`);
    }
  }
  // The compiler flags any property a model does not declare (a misspelt or misplaced field).
  const file = path.join(checkDir, 'manifests.ts');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const tsc = await runCommand(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', file], { timeoutMs: 120_000, cwd: ROOT });
  assert.equal(tsc.code, 0, `unknown or mistyped fields:\n${tsc.stdout}${tsc.stderr}`);
  rmSync(checkDir, { recursive: true, force: true });
});

test('the unknown-field check catches a misspelt field (the check can fail)', { skip: !kubectl && 'kubectl missing', timeout: 120_000 }, async () => {
  const checkDir = path.join(ROOT, 'build', 'kubernetes-typecheck-negative');
  rmSync(checkDir, { recursive: true, force: true });
  mkdirSync(checkDir, { recursive: true });
  const file = path.join(checkDir, 'bad.ts');
  writeFileSync(file, `import type { IService } from 'kubernetes-models/v1/Service';\nexport const s: IService = ${JSON.stringify({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 1, targetPrt: 2 }] },
  })};\n`);
  const tsc = await runCommand(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', file], { timeoutMs: 120_000, cwd: ROOT });
  rmSync(checkDir, { recursive: true, force: true });
  assert.notEqual(tsc.code, 0);
  assert.match(tsc.stdout, /targetPrt/);
});

for (const overlay of overlays) {
  test(`overlay ${overlay}: replicas, probes, drain, shared CA, hot-reloaded policy, autoscaling, disruption budget, egress policy`, { skip: !kubectl && 'kubectl missing' }, async () => {
    const manifests = await render(overlay);
    const find = (kind: string, name?: string): Any => {
      const found = manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
      assert.ok(found, `${overlay} has no ${kind}${name ? `/${name}` : ''}`);
      return found;
    };
    const namespace = find('Namespace').metadata.name as string;
    for (const m of manifests.filter((x) => x.kind !== 'Namespace')) assert.equal(m.metadata.namespace, namespace, `${m.kind} not in ${namespace}`);

    const deployment = find('Deployment', 'portcullis');
    const pod = deployment.spec.template;
    const labels = pod.metadata.labels as Record<string, string>;
    const selects = (selector: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(deployment.spec.replicas >= 2);
    assert.ok(selects(deployment.spec.selector.matchLabels));
    const [container] = pod.spec.containers;
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(pod.metadata.annotations['prometheus.io/scrape'], 'true');
    assert.equal(pod.metadata.annotations['prometheus.io/path'], '/metrics');
    const adminPort = container.ports.find((p: Any) => p.name === 'admin').containerPort as number;
    assert.equal(Number(pod.metadata.annotations['prometheus.io/port']), adminPort);
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);

    // The policy: a ConfigMap mounted as a directory (a subPath mount never sees updates), valid for `portcullis check`.
    const configPath = container.args[container.args.indexOf('-c') + 1] as string;
    const configMount = container.volumeMounts.find((m: Any) => configPath.startsWith(`${m.mountPath}/`));
    assert.ok(configMount, 'the -c file is on no mounted volume');
    assert.equal(configMount.subPath, undefined);
    const configVolume = pod.spec.volumes.find((v: Any) => v.name === configMount.name);
    const configMap = find('ConfigMap', configVolume.configMap.name);
    const parsed = parseConfigText(configMap.data[path.basename(configPath)], 'portcullis.yaml');
    assert.ok(parsed.ok, parsed.ok ? '' : JSON.stringify(parsed.problems));
    const config = parsed.config;
    assert.equal(config.admin?.address.split(':').at(-1), String(adminPort));
    assert.equal(config.log.file, '-');

    // One CA for every replica: ca.cert and ca.key are files of the mounted Secret.
    const caMount = container.volumeMounts.find((m: Any) => config.ca?.cert?.startsWith(`${m.mountPath}/`));
    assert.ok(caMount, 'ca.cert is not on a mounted volume');
    assert.ok(config.ca?.key?.startsWith(`${caMount.mountPath}/`));
    assert.ok(pod.spec.volumes.find((v: Any) => v.name === caMount.name).secret.secretName);
    // state_dir is writable (the root filesystem is not).
    const stateMount = container.volumeMounts.find((m: Any) => m.mountPath === config.state_dir);
    assert.ok(pod.spec.volumes.find((v: Any) => v.name === stateMount?.name)?.emptyDir, 'state_dir is not an emptyDir');

    // Drain: preStop, then SIGTERM and shutdown_grace, all within terminationGracePeriodSeconds.
    const preStopSeconds = Number(container.lifecycle.preStop.exec.command.at(-1));
    assert.ok(preStopSeconds * 1000 + config.timeouts.shutdown_grace < pod.spec.terminationGracePeriodSeconds * 1000,
      `preStop ${preStopSeconds}s + shutdown_grace ${config.timeouts.shutdown_grace}ms must fit in ${pod.spec.terminationGracePeriodSeconds}s`);

    const service = find('Service', 'portcullis');
    assert.ok(selects(service.spec.selector));
    const proxyPort = container.ports.find((p: Any) => p.name === 'proxy').containerPort as number;
    assert.equal(String(config.listen[0]?.address.split(':').at(-1)), String(proxyPort));
    assert.equal(service.spec.ports[0].targetPort, 'proxy');
    assert.ok(selects(find('PodDisruptionBudget').spec.selector.matchLabels));
    const hpa = find('HorizontalPodAutoscaler');
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.minReplicas <= deployment.spec.replicas);

    // Egress: other pods reach only the gateway (and DNS); the gateway reaches out.
    const workloads = find('NetworkPolicy', 'egress-only-through-portcullis');
    assert.deepEqual(workloads.spec.podSelector, {});
    assert.deepEqual(workloads.spec.policyTypes, ['Egress']);
    const allowedPeers = workloads.spec.egress.flatMap((rule: Any) => rule.to);
    assert.ok(allowedPeers.some((peer: Any) => peer.podSelector && selects(peer.podSelector.matchLabels) && !peer.namespaceSelector));
    assert.ok(allowedPeers.every((peer: Any) => !peer.ipBlock), 'workloads must not reach addresses directly');
    const gateway = find('NetworkPolicy', 'portcullis');
    assert.ok(selects(gateway.spec.podSelector.matchLabels));
    assert.deepEqual(gateway.spec.egress, [{}]);
  });
}
