/**
 * Compiles the test contracts with the pinned solc and (run directly) writes `artifacts.json`:
 *
 *   npx tsx packages/core/test-support/evm/contracts/compile.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import solc from 'solc';
import { type Artifacts, artifactsUrl, contractNames, isRecord, parseArtifacts } from '../artifacts.js';

const sourceNames = ['OwnedWallet.sol', 'WalletFactory.sol'] as const;

// Part of the artifact's identity: any change here changes the bytecode.
const settings = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
} as const;

/** Compiles `contracts/*.sol` in memory; throws on any compiler error. */
export function compileContracts(): Artifacts {
  const sources = Object.fromEntries(
    sourceNames.map((name) => [name, { content: readFileSync(new URL(`./${name}`, import.meta.url), 'utf8') }]),
  );
  const compile: (input: string) => string = solc.compile;
  const output: unknown = JSON.parse(compile(JSON.stringify({ language: 'Solidity', sources, settings })));
  if (!isRecord(output)) throw new Error('solc: unexpected output');

  const errors = Array.isArray(output.errors) ? output.errors.filter((e) => isRecord(e) && e.severity === 'error') : [];
  if (errors.length > 0) {
    throw new Error(`solc: ${errors.map((e) => (isRecord(e) ? String(e.formattedMessage) : '')).join('\n')}`);
  }

  const contracts: Record<string, unknown> = {};
  for (const name of contractNames) {
    const sourceName = `${name}.sol`;
    const bySource = isRecord(output.contracts) ? output.contracts[sourceName] : undefined;
    const compiled = isRecord(bySource) ? bySource[name] : undefined;
    if (!isRecord(compiled) || !isRecord(compiled.evm)) throw new Error(`solc: no output for ${name}`);
    const { bytecode, deployedBytecode } = compiled.evm;
    contracts[name] = {
      sourceName,
      abi: compiled.abi,
      bytecode: isRecord(bytecode) ? `0x${String(bytecode.object)}` : undefined,
      deployedBytecode: isRecord(deployedBytecode) ? `0x${String(deployedBytecode.object)}` : undefined,
    };
  }
  const version: () => string = solc.version;
  return parseArtifacts({ solcVersion: version(), contracts });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(artifactsUrl, `${JSON.stringify(compileContracts(), null, 2)}\n`);
  console.log(`wrote ${fileURLToPath(artifactsUrl)}`);
}
