import Hummingbird
import NIOCore

extension HubConsole {
    /// `GET /console/style.css`: the console's only asset, served by the hub (no CDN).
    static func stylesheet() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: css)))
    }

    static let css = """
        *{box-sizing:border-box}
        body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f7f9}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.6rem 1rem;background:#1f3a5f;color:#fff}
        header a{color:#fff;margin-right:.8rem}
        .brand{font-size:1.1rem;margin-right:1rem}
        nav{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem;flex:1}
        .logout{margin-left:auto;display:flex;align-items:center;gap:.5rem}
        main{padding:1rem;max-width:80rem;margin:0 auto}
        h1{font-size:1.4rem;margin:.2rem 0 1rem;word-break:break-word}
        h2{font-size:1.15rem;margin-top:2rem}
        .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;background:#fff;border:1px solid #d6dae0;border-radius:4px}
        table{border-collapse:collapse;width:100%;font-size:.92rem}
        th,td{padding:.45rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
        thead th{background:#eef1f5;white-space:nowrap}
        code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88rem;word-break:break-word;white-space:pre-wrap}
        tr.differs{background:#fff6db}
        tr.stale{background:#fde8e8}
        strong.count{color:#8a1010}
        .problem{color:#8a1010;background:#fde8e8;padding:.6rem;border-radius:4px}
        .ok{color:#0f5a24;background:#e3f5e8;padding:.6rem;border-radius:4px}
        .note,.pager,.filter{color:#4a5563}
        .pager a,.filter a{margin-right:1rem}
        .stack{display:flex;flex-direction:column;gap:.8rem;max-width:60rem}
        .stack label{display:flex;flex-direction:column;gap:.25rem}
        .stack td label{display:flex;flex-direction:row;align-items:baseline;gap:.4rem}
        input,textarea,button{font:inherit;padding:.45rem .6rem;border:1px solid #9aa4b1;border-radius:4px;max-width:100%}
        button{background:#1f3a5f;color:#fff;border-color:#1f3a5f;cursor:pointer}
        button.danger{background:#8a1010;border-color:#8a1010}
        header button{background:#fff;color:#1f3a5f}
        .filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin-bottom:1rem}
        .filters label{display:flex;flex-direction:column;font-size:.85rem;gap:.2rem}
        .filters input{width:11rem}
        .scopes{display:flex;flex-wrap:wrap;gap:.3rem;margin-bottom:.4rem}
        .scopes input{width:9rem;font-size:.85rem;padding:.25rem .4rem}
        .actions{display:flex;flex-wrap:wrap;gap:.5rem}
        g.countries path{vector-effect:non-scaling-stroke}
        svg.qr{display:block;width:14rem;max-width:100%;height:auto;margin:0 0 1rem}
        .code code{font-size:1.4rem;letter-spacing:.08em;background:#fff;padding:.4rem .6rem;border:1px solid #d6dae0}
        @media (max-width:600px){main{padding:.6rem}th,td{padding:.35rem .4rem}.logout{margin-left:0}}
        """
}
