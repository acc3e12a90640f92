// The app's pages: hash routes, whether they need a signed-in user, and
// the tab they belong to.

import * as feed from './feed.js';
import * as post from './post.js';
import * as postForm from './post-form.js';
import * as auth from './auth.js';
import * as me from './me.js';
import * as chats from './chats.js';
import * as room from './room.js';

export const routes = [
  { name: 'feed', pattern: /^\/$/, tab: 'feed', mount: feed.mount },
  { name: 'new', pattern: /^\/new$/, tab: 'feed', auth: true, mount: postForm.mount },
  { name: 'edit', pattern: /^\/edit\/([a-z0-9]+)$/, tab: 'feed', auth: true, mount: postForm.mount },
  { name: 'post', pattern: /^\/post\/([a-z0-9]+)$/, tab: 'feed', mount: post.mount },
  { name: 'signin', pattern: /^\/signin$/, tab: 'me', mount: auth.mountSignIn },
  { name: 'signup', pattern: /^\/signup$/, tab: 'me', mount: auth.mountSignUp },
  { name: 'me', pattern: /^\/me$/, tab: 'me', auth: true, mount: me.mount },
  { name: 'chats', pattern: /^\/chats$/, tab: 'chats', auth: true, mount: chats.mount },
  { name: 'room', pattern: /^\/room\/([a-z0-9]+)$/, tab: 'chats', auth: true, mount: room.mount },
];
