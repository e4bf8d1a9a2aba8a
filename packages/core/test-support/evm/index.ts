export { type Artifacts, type ContractArtifact, type ContractName, loadArtifacts } from './artifacts.js';
export {
  defaultSender,
  JsonRpcError,
  type RequestArguments,
  type RequestFunction,
  startTestChain,
  type TestChain,
  type TestChainOptions,
  type TestTransaction,
  wrap6492,
} from './chain.js';
