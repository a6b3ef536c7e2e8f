// The one contract every proxy concern implements: a Layer wraps the Handler below it.

// A handler reports a failure by rejecting, never by throwing, so a layer may call next without a try.
export type Handler<Req, Res> = (req: Req) => Promise<Res>;
export type Layer<Req, Res> = (next: Handler<Req, Res>) => Handler<Req, Res>;

// compose(a, b, c)(terminal) = a(b(c(terminal))): the first layer listed sees the request first.
export function compose<Req, Res>(...layers: ReadonlyArray<Layer<Req, Res>>): (terminal: Handler<Req, Res>) => Handler<Req, Res> {
  return (terminal) => {
    let handler = terminal;
    for (let i = layers.length - 1; i >= 0; i--) handler = (layers[i] as Layer<Req, Res>)(handler);
    return handler;
  };
}
