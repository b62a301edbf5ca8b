// An unmodified discord.js v14 client against cordbank-discord-sim --serve:
// logs in (GET /gateway/bot, then the Gateway: HELLO, IDENTIFY, READY,
// GUILD_CREATE on every shard /gateway/bot recommends), asks the simulator
// for two /balance interactions through its control API, answers the first
// with interaction.reply and the second with deferReply + editReply (the
// webhook PATCH of @original), and exits 0.
//
//   SIM_URL=http://127.0.0.1:P node login.js
//
// Prints one JSON line per step on stdout; exits 1 on any error or when
// nothing happened within LOGIN_TIMEOUT_MS (default 20000).
'use strict';
const { Client, Events, GatewayIntentBits } = require('discord.js');

const base = process.env.SIM_URL;
const token = process.env.SIM_TOKEN || 'cordbank-dev-token';
const timeoutMs = Number(process.env.LOGIN_TIMEOUT_MS || 20000);
if (!base) {
  console.error('login.js: set SIM_URL=http://127.0.0.1:PORT');
  process.exit(2);
}

const say = (event, fields) => console.log(JSON.stringify({ event, ...fields }));
const fail = (why) => {
  console.error(`login.js: ${why}`);
  process.exit(1);
};
setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs).unref();

// The REST base is the simulator's; the Gateway URL comes from its /gateway/bot.
const client = new Client({
  intents: [GatewayIntentBits.Guilds],
  shards: 'auto', // as many as /gateway/bot recommends
  rest: { api: `${base}/api` },
});

client.once(Events.ClientReady, async (ready) => {
  say('ready', { user: ready.user.id, guilds: ready.guilds.cache.size, shard: ready.ws.shards.size });
  const res = await fetch(`${base}/_sim/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count: 2, rate: 5, command: 'balance', options: { user: '$member' } }),
  });
  if (!res.ok) fail(`/_sim/interactions answered ${res.status}`);
  say('queued', await res.json());
});

let answered = 0; // interactions received
let done = 0; // interactions answered
client.on(Events.InteractionCreate, async (interaction) => {
  if (!interaction.isChatInputCommand()) return fail('not a chat input command');
  const target = interaction.options.getUser('user');
  say('interaction', {
    id: interaction.id,
    command: interaction.commandName,
    guild: interaction.guildId,
    user: interaction.user.id,
    target: target && target.id,
  });
  const content = `<@${interaction.user.id}> has 100 coins.`;
  answered += 1;
  if (answered === 1) {
    await interaction.reply({ content });
    say('replied', { id: interaction.id });
  } else {
    await interaction.deferReply();
    await interaction.editReply({ content });
    say('deferred_and_edited', { id: interaction.id });
  }
  done += 1;
  if (done === 2) {
    await client.destroy();
    process.exit(0);
  }
});

client.on(Events.Error, (error) => fail(`client error: ${error.message}`));
client.login(token).catch((error) => fail(`login failed: ${error.message}`));
