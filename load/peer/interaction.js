// interaction — a Discord interaction body, checked the way cordbank's
// gateway checks it (services/gateway/discord_json.c), with the same
// messages, so that a bad body gets the same 400 from both bots.
//
// Snowflakes are decimal strings of 1..20 digits, positive and within
// bigint; they become BigInt here (a Number loses digits past 2^53) and
// are printed back canonically. Everything came from outside: a bad field
// throws a BadRequest naming it.
'use strict';

const MAX_OPTIONS = 25;
const MAX_RESOLVED_USERS = 25;
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

class BadRequest extends Error {}

const fail = (message) => {
  throw new BadRequest(message);
};
const has = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInteger = (v) => typeof v === 'number' && Number.isInteger(v);

function digits(text) {
  if (typeof text !== 'string' || !/^[0-9]{1,20}$/.test(text)) return null;
  const value = BigInt(text);
  return value <= UINT64_MAX ? value : null;
}

function snowflake(text) {
  const value = digits(text);
  return value !== null && value !== 0n && value <= INT64_MAX ? value : null;
}

function getSnowflake(obj, path, key, required) {
  if (!has(obj, key)) {
    if (!required) return 0n;
    fail(`missing "${path}${key}"`);
  }
  const value = snowflake(obj[key]);
  if (value === null) fail(`"${path}${key}" must be a snowflake string`);
  return value;
}

function getString(obj, path, key, required) {
  if (!has(obj, key)) {
    if (!required) return '';
    fail(`missing "${path}${key}"`);
  }
  const value = obj[key];
  if (typeof value !== 'string' || (required && value.length === 0))
    fail(`"${path}${key}" must be a ${required ? 'non-empty ' : ''}string`);
  return value;
}

function getObject(obj, path, key, required) {
  if (!has(obj, key)) {
    if (!required) return null;
    fail(`missing "${path}${key}"`);
  }
  if (!isObject(obj[key])) fail(`"${path}${key}" must be an object`);
  return obj[key];
}

function parseInvoker(root, cmd) {
  const member = getObject(root, '', 'member', false);
  if (!member && !has(root, 'user'))
    fail('missing "member.user" (in a server) or "user" (in a DM)');
  const path = member ? 'member.user.' : 'user.';
  const user = getObject(member || root, member ? 'member.' : '', 'user', true);
  cmd.userId = getSnowflake(user, path, 'id', true);
  cmd.username = getString(user, path, 'username', false);
  cmd.permissions = 0n;
  if (member && has(member, 'permissions')) {
    const perms = digits(member.permissions);
    if (perms === null) fail('"member.permissions" must be a decimal string');
    cmd.permissions = perms;
  }
}

function optionValue(value, type, name) {
  switch (type) {
    case 3:
      if (typeof value !== 'string') fail(`option "${name}" must be a string`);
      return value;
    case 4:
      if (!isInteger(value)) fail(`option "${name}" must be an integer`);
      return value;
    case 5:
      if (typeof value !== 'boolean') fail(`option "${name}" must be a boolean`);
      return value;
    case 6: {
      const user = snowflake(value);
      if (user === null) fail(`option "${name}" must be a snowflake string`);
      return user;
    }
    default:
      return fail(`option "${name}" has unsupported type ${type}`);
  }
}

function parseOptions(data) {
  if (!has(data, 'options')) return [];
  const options = data.options;
  if (!Array.isArray(options) || options.length > MAX_OPTIONS)
    fail(`"data.options" must be an array of at most ${MAX_OPTIONS}`);
  return options.map((item, index) => {
    if (!isObject(item) || typeof item.name !== 'string' || item.name.length === 0)
      fail(`"data.options[${index}]" needs a non-empty "name"`);
    if (!isInteger(item.type)) fail(`"data.options[${index}].type" must be an integer`);
    if (!has(item, 'value')) fail(`option "${item.name}" has no "value"`);
    return { name: item.name, type: item.type, value: optionValue(item.value, item.type, item.name) };
  });
}

// Resolved users: id -> whether it is a bot.
function parseResolved(data) {
  const bots = new Map();
  const resolved = getObject(data, 'data.', 'resolved', false);
  const users = resolved && getObject(resolved, 'data.resolved.', 'users', false);
  if (!users) return bots;
  const keys = Object.keys(users);
  if (keys.length > MAX_RESOLVED_USERS)
    fail(`"data.resolved.users" has more than ${MAX_RESOLVED_USERS} users`);
  for (const key of keys) {
    const path = `data.resolved.users.${key.slice(0, 24)}.`;
    const value = users[key];
    if (!isObject(value)) fail(`"${path.slice(0, -1)}" must be an object`);
    const id = getSnowflake(value, path, 'id', true);
    getString(value, path, 'username', false);
    if (has(value, 'bot') && typeof value.bot !== 'boolean') fail(`"${path}bot" must be a boolean`);
    if (!bots.has(id)) bots.set(id, value.bot === true);
  }
  return bots;
}

function parseCommand(root) {
  const cmd = { type: 2 };
  cmd.interactionId = getSnowflake(root, '', 'id', true);
  cmd.applicationId = getSnowflake(root, '', 'application_id', true);
  cmd.token = getString(root, '', 'token', true);
  cmd.guildId = getSnowflake(root, '', 'guild_id', false);
  cmd.channelId = getSnowflake(root, '', 'channel_id', false);
  cmd.locale = getString(root, '', 'locale', false);
  parseInvoker(root, cmd);
  const data = getObject(root, '', 'data', true);
  cmd.name = getString(data, 'data.', 'name', true);
  cmd.options = parseOptions(data);
  cmd.bots = parseResolved(data);
  return cmd;
}

// The body's interaction: {type: 1} for a PING, or the command. Throws
// BadRequest (invalid JSON, a missing or malformed field).
function parse(body) {
  let root;
  try {
    root = JSON.parse(body.toString('utf8'));
  } catch (err) {
    fail(`invalid JSON: ${err.message}`);
  }
  if (!isObject(root)) fail('the body must be a JSON object');
  if (!has(root, 'type')) fail('missing "type"');
  if (!isInteger(root.type)) fail('"type" must be an integer');
  if (root.type === 1) return { type: 1 };
  if (root.type !== 2) fail(`unsupported interaction type ${root.type}`);
  return parseCommand(root);
}

// Typed option reads, as services/command/options.c: the first option of
// that name; {found: false} when absent, {bad: true} when of another type.
function option(cmd, name, type) {
  const opt = cmd.options.find((o) => o.name === name);
  if (!opt) return { found: false };
  if (opt.type !== type) return { found: true, bad: true };
  return { found: true, value: opt.value };
}

const optionInt = (cmd, name) => option(cmd, name, 4);
const optionUser = (cmd, name) => option(cmd, name, 6);
const isBot = (cmd, user) => cmd.bots.get(user) === true;

module.exports = { BadRequest, parse, optionInt, optionUser, isBot };
