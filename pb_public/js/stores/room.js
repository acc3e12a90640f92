// One open room's messages: history pages, live messages, sending with a
// client-made id (a retry never stores twice), failed sends kept for a
// retry, and catch-up after a reconnect. No DOM: the api is injected.

import { Emitter, errorKind } from './emitter.js';
import { newRecordId } from '../ids.js';
import {
  FAILED, SENDING, catchUpSince, isPending, mergeMessages, oldestStored, setStatus,
} from '../messages.js';

export class RoomStore extends Emitter {
  /**
   * api.listMessages({room, before, limit}) answers the room's messages
   * newest first, older than the message "before" when given;
   * api.listMessagesSince({room, since}) answers all messages created at
   * or after since (a Date), oldest first; api.createMessage({id, room,
   * text, files}) stores one; api.getMessage(id) fetches one.
   */
  constructor(api, roomId, myId, { pageSize = 30, newId = newRecordId } = {}) {
    super();
    this.api = api;
    this.roomId = roomId;
    this.myId = myId;
    this.pageSize = pageSize;
    this.newId = newId;
    this.messages = [];
    this.hasOlder = false;
    this.loaded = false;
    this.loadingOlder = false;
    this.error = null;
    this.seq = 0;
  }

  /** load fetches the newest page. */
  async load() {
    try {
      const items = await this.api.listMessages({ room: this.roomId, before: null, limit: this.pageSize });
      this.messages = mergeMessages(this.messages, items);
      this.hasOlder = items.length === this.pageSize;
      this.loaded = true;
      this.error = null;
    } catch (err) {
      this.error = err;
    }
    this.emit();
  }

  /** loadOlder fetches the page before the oldest message shown. */
  async loadOlder() {
    if (this.loadingOlder || !this.hasOlder) return;
    const oldest = oldestStored(this.messages);
    if (!oldest) return;
    this.loadingOlder = true;
    this.emit();
    try {
      const items = await this.api.listMessages({ room: this.roomId, before: oldest, limit: this.pageSize });
      this.messages = mergeMessages(this.messages, items);
      this.hasOlder = items.length === this.pageSize;
    } catch (err) {
      this.error = err;
    } finally {
      this.loadingOlder = false;
      this.emit();
    }
  }

  /** onEvent applies a realtime messages event for this room. */
  onEvent({ action, record }) {
    if (record.room !== this.roomId) return;
    if (action === 'delete') {
      this.messages = this.messages.filter((m) => m.id !== record.id);
    } else {
      this.messages = mergeMessages(this.messages, [record]);
    }
    this.emit();
  }

  /**
   * catchUp runs after a reconnect: everything stored since the newest
   * message held (minus a margin) is fetched and merged by id, so nothing
   * missed is lost and nothing is doubled.
   */
  async catchUp() {
    const since = catchUpSince(this.messages);
    if (!since) return this.load();
    try {
      const items = await this.api.listMessagesSince({ room: this.roomId, since });
      this.messages = mergeMessages(this.messages, items);
      this.error = null;
    } catch (err) {
      this.error = err;
    }
    this.emit();
    return undefined;
  }

  /**
   * send shows the message at once (status "sending") and stores it; it
   * resolves when stored or marked failed. Returns the message id.
   */
  async send({ text = '', files = [] }) {
    const message = {
      id: this.newId(),
      room: this.roomId,
      sender: this.myId,
      text: text.trim(),
      attachments: [],
      files: [...files],
      created: '',
      status: SENDING,
      seq: ++this.seq,
    };
    this.messages = mergeMessages(this.messages, [message]);
    this.emit();
    await this.deliver(message);
    return message.id;
  }

  /** retry sends a failed message again, with the same id. */
  async retry(id) {
    const message = this.messages.find((m) => m.id === id && m.status === FAILED);
    if (!message) return;
    this.messages = setStatus(this.messages, id, SENDING);
    this.emit();
    await this.deliver(message);
  }

  async deliver(message) {
    try {
      const stored = await this.api.createMessage({
        id: message.id, room: message.room, text: message.text, files: message.files,
      });
      this.messages = mergeMessages(this.messages, [stored]);
    } catch (err) {
      if (err?.status === 400 && err?.response?.data?.id) {
        // The id is taken: an earlier try was stored after all.
        try {
          const stored = await this.api.getMessage(message.id);
          if (stored.room === this.roomId) {
            this.messages = mergeMessages(this.messages, [stored]);
            this.emit();
            return;
          }
        } catch {
          // fall through: mark failed
        }
      }
      const still = this.messages.find((m) => m.id === message.id);
      if (still && isPending(still)) {
        const kind = errorKind(err);
        const detail = err?.response?.data?.text?.message || err?.response?.message || '';
        this.messages = setStatus(this.messages, message.id, FAILED, kind === 'other' ? detail : kind);
      }
    }
    this.emit();
  }

  /** failedCount is how many messages wait for a retry. */
  get failedCount() {
    return this.messages.filter((m) => m.status === FAILED).length;
  }
}
