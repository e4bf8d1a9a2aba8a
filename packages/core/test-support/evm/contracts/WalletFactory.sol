// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {OwnedWallet} from "./OwnedWallet.sol";

/// @title WalletFactory
/// @notice Deploys OwnedWallet instances at CREATE2 addresses known before deployment (ERC-6492 counterfactual wallets).
contract WalletFactory {
    event WalletDeployed(address indexed wallet, address indexed owner, bytes32 salt);

    /// @notice Deploys the wallet for (owner, salt), or returns it if it already exists.
    function deploy(address owner, bytes32 salt) external returns (address wallet) {
        wallet = predict(owner, salt);
        if (wallet.code.length == 0) {
            new OwnedWallet{salt: salt}(owner);
            emit WalletDeployed(wallet, owner, salt);
        }
    }

    /// @notice The CREATE2 address `deploy(owner, salt)` deploys to.
    function predict(address owner, bytes32 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(OwnedWallet).creationCode, abi.encode(owner)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }
}
