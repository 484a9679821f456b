import type { ProxyConfig } from '../config/schema.js';
import { compilePolicy, type CompiledPolicy } from '../policy/policy-engine.js';
import { expandGroups } from '../proxy-state.js';
import type { CliIo } from './cli-io.js';

/** The policy of a loaded config, as the proxy compiles it; a rule it refuses is reported on stderr (undefined then). */
export const compileConfigPolicy = (config: ProxyConfig, file: string, io: CliIo): CompiledPolicy | undefined => {
  try {
    return compilePolicy(expandGroups(config));
  } catch (error) {
    io.stderr.write(`${file}: ${(error as Error).message}\n`);
    return undefined;
  }
};
