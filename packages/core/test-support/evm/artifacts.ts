import { readFileSync } from 'node:fs';
import type { Abi, Hex } from 'viem';

/** The contracts in `contracts/`, by contract name. */
export type ContractName = 'OwnedWallet' | 'WalletFactory';
export const contractNames: readonly ContractName[] = ['OwnedWallet', 'WalletFactory'];

export interface ContractArtifact {
  readonly sourceName: string;
  readonly abi: Abi;
  /** Creation bytecode (constructor arguments not included). */
  readonly bytecode: Hex;
  /** Runtime bytecode as stored on chain (immutables still zeroed). */
  readonly deployedBytecode: Hex;
}

export interface Artifacts {
  /** Full solc version string, e.g. `0.8.37+commit.…`. */
  readonly solcVersion: string;
  readonly contracts: Readonly<Record<ContractName, ContractArtifact>>;
}

/** Where `contracts/compile.ts` writes and `loadArtifacts` reads. */
export const artifactsUrl = new URL('./contracts/artifacts.json', import.meta.url);

/** The checked-in artifacts, checked for shape. */
export function loadArtifacts(): Artifacts {
  return parseArtifacts(JSON.parse(readFileSync(artifactsUrl, 'utf8')));
}

export function parseArtifacts(value: unknown): Artifacts {
  if (!isRecord(value) || typeof value.solcVersion !== 'string' || !isRecord(value.contracts)) {
    throw new TypeError('artifacts: expected { solcVersion, contracts }');
  }
  const { contracts } = value;
  return {
    solcVersion: value.solcVersion,
    contracts: {
      OwnedWallet: parseContract('OwnedWallet', contracts.OwnedWallet),
      WalletFactory: parseContract('WalletFactory', contracts.WalletFactory),
    },
  };
}

function parseContract(name: ContractName, value: unknown): ContractArtifact {
  if (!isRecord(value)) throw new TypeError(`artifacts: ${name} is missing`);
  const { sourceName, abi, bytecode, deployedBytecode } = value;
  if (typeof sourceName !== 'string') throw new TypeError(`artifacts: ${name}.sourceName must be a string`);
  if (!isAbi(abi)) throw new TypeError(`artifacts: ${name}.abi must be an array of ABI items`);
  if (!isBytecode(bytecode)) throw new TypeError(`artifacts: ${name}.bytecode must be non-empty 0x-hex`);
  if (!isBytecode(deployedBytecode)) throw new TypeError(`artifacts: ${name}.deployedBytecode must be non-empty 0x-hex`);
  return { sourceName, abi, bytecode, deployedBytecode };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// A shallow check: solc is trusted to emit well-formed items, we only guard against a wrong file.
function isAbi(value: unknown): value is Abi {
  return Array.isArray(value) && value.every((item) => isRecord(item) && typeof item.type === 'string');
}

function isBytecode(value: unknown): value is Hex {
  return typeof value === 'string' && /^0x([0-9a-f]{2})+$/.test(value);
}
