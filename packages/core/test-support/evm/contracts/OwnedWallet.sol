// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title OwnedWallet
/// @notice A minimal ERC-1271 contract wallet with a single EOA owner. Test fixture, not for real funds.
contract OwnedWallet {
    /// @dev bytes4(keccak256("isValidSignature(bytes32,bytes)")), the ERC-1271 magic value.
    bytes4 internal constant ERC1271_MAGIC_VALUE = 0x1626ba7e;
    bytes4 internal constant ERC1271_INVALID = 0xffffffff;
    /// @dev secp256k1n / 2: signatures with a larger s are malleable twins and are rejected (EIP-2).
    uint256 internal constant SECP256K1N_HALF = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    address public immutable owner;

    constructor(address owner_) {
        require(owner_ != address(0), "OwnedWallet: zero owner");
        owner = owner_;
    }

    /// @notice ERC-1271: the magic value iff `signature` is the owner's 65-byte (r, s, v) signature of `hash`.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        return recoverSigner(hash, signature) == owner ? ERC1271_MAGIC_VALUE : ERC1271_INVALID;
    }

    /// @dev Returns address(0) for anything that is not a canonical signature; owner is never address(0).
    function recoverSigner(bytes32 hash, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > SECP256K1N_HALF) return address(0);
        if (v != 27 && v != 28) return address(0);
        return ecrecover(hash, v, r, s);
    }
}
