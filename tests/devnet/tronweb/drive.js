// Drives unmodified TronWeb (npm) against a devnet: a transfer and a delegation,
// built by TronWeb's transactionBuilder, signed (TronWeb checks raw_data_hex against its
// own encoding) and broadcast. Prints one JSON line with the results.
// With a 4th argument, also an AccountCreateContract for that new address.
// usage: node drive.js <fullHost> <ownerPrivateKeyHex> <receiverBase58> [<newAccountBase58>]
const { TronWeb } = require('tronweb');

async function main() {
  const [fullHost, privateKey, receiver, newAccount] = process.argv.slice(2);
  const tronWeb = new TronWeb({ fullHost, privateKey });
  const owner = tronWeb.address.fromPrivateKey(privateKey);
  const out = { owner };

  const transfer = await tronWeb.transactionBuilder.sendTrx(receiver, 1_000_000, owner);
  const signedTransfer = await tronWeb.trx.sign(transfer);
  out.transfer = {
    txID: transfer.txID,
    raw_data_hex: transfer.raw_data_hex,
    broadcast: await tronWeb.trx.sendRawTransaction(signedTransfer),
  };

  const delegation = await tronWeb.transactionBuilder.delegateResource(
    100_000_000, receiver, 'ENERGY', owner, true, 20,
  );
  const signedDelegation = await tronWeb.trx.sign(delegation);
  out.delegation = {
    txID: delegation.txID,
    raw_data_hex: delegation.raw_data_hex,
    broadcast: await tronWeb.trx.sendRawTransaction(signedDelegation),
  };

  if (newAccount) {
    const creation = await tronWeb.transactionBuilder.createAccount(newAccount, owner);
    const signedCreation = await tronWeb.trx.sign(creation);
    out.createAccount = {
      txID: creation.txID,
      raw_data_hex: creation.raw_data_hex,
      broadcast: await tronWeb.trx.sendRawTransaction(signedCreation),
    };
  }

  // A tampered raw_data_hex must be refused by TronWeb's own check before signing.
  const bad = await tronWeb.transactionBuilder.sendTrx(receiver, 2_000_000, owner);
  bad.raw_data_hex = bad.raw_data_hex.replace(/80897a/, '80897b');
  bad.raw_data.contract[0].parameter.value.amount = 3_000_000;
  try {
    await tronWeb.trx.sign(bad);
    out.tamperedSigned = true;
  } catch (e) {
    out.tamperedSigned = false;
    out.tamperedError = String(e && e.message ? e.message : e);
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
