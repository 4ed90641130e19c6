//! Worker apps: each actix-web worker's finished `App` service, handed to
//! whoever asked for it ([`AppTap`]) so that it can run requests of its own
//! through the very routes, middleware and app data that HTTP requests see.
//! Sails' virtual requests are the user: `switchyard-sails` implements
//! [`AppTap`].
//!
//! Why a wrapper around the whole `App` rather than a `configure` function:
//! a configure function adds routes to an app but never sees the app's
//! finished service, and a request needs all of it (app data is attached by
//! the app's outermost service, `wrap` middleware sits around the router).
//! [`tapped`] builds the app's service on each worker as actix-web would and
//! keeps a handle on it; nothing is stored per thread: each tap gets the
//! service explicitly and keeps it where it likes.

use std::rc::Rc;
use std::sync::Arc;

use actix_http::Request;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, fn_factory_with_config, fn_service,
};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse};
use futures_util::future::LocalBoxFuture;

/// One worker's app, callable with a request: what HTTP requests on that
/// worker reach. Lives on the worker's thread.
pub type WorkerApp = Rc<dyn Fn(Request) -> LocalBoxFuture<'static, HttpResponse>>;

/// Wants each worker's app once it is built (see the module doc).
pub trait AppTap: Send + Sync + 'static {
    /// Called on the worker's thread, inside its actix system, once the
    /// worker's app service is ready. The app lives as long as the worker
    /// serves; `stopped` is called there when the worker's service goes.
    fn worker_app(&self, app: WorkerApp);

    /// The worker whose app [`worker_app`](Self::worker_app) gave is
    /// stopping (on that worker's thread).
    fn worker_stopped(&self) {}
}

/// Wraps `app` so that every tap gets each worker's app service. Use it
/// in the factory of your own `HttpServer`:
///
/// ```no_run
/// use std::sync::Arc;
/// use actix_web::{App, HttpServer};
/// use switchyard_socketio::server::{AppTap, WorkerApp, tapped};
///
/// struct Count;
/// impl AppTap for Count {
///     fn worker_app(&self, _app: WorkerApp) { log::info!("a worker's app is ready"); }
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let taps: Arc<[Arc<dyn AppTap>]> = Arc::new([Arc::new(Count) as Arc<dyn AppTap>]);
/// HttpServer::new(move || tapped(App::new(), taps.clone()))
///     .bind("127.0.0.1:3000")?
///     .run()
///     .await
/// # }
/// ```
pub fn tapped<T, B>(
    app: App<T>,
    taps: Arc<[Arc<dyn AppTap>]>,
) -> impl ServiceFactory<
    Request,
    Config = AppConfig,
    Response = ServiceResponse<B>,
    Error = actix_web::Error,
    InitError = (),
> + 'static
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let factory = app.into_factory();
    fn_factory_with_config(move |config: AppConfig| {
        let init = factory.new_service(config);
        let taps = taps.clone();
        async move {
            let service = Rc::new(init.await?);
            if !taps.is_empty() {
                let kept = service.clone();
                let call: WorkerApp = Rc::new(move |req| {
                    let service = kept.clone();
                    Box::pin(async move {
                        match service.call(req).await {
                            Ok(res) => res.into_parts().1.map_into_boxed_body(),
                            Err(e) => e.error_response(),
                        }
                    })
                });
                for tap in taps.iter() {
                    tap.worker_app(call.clone());
                }
            }
            let stopping = Rc::new(Stopping(taps));
            Ok(fn_service(move |req: Request| {
                let _ = &stopping;
                let service = service.clone();
                async move { service.call(req).await }
            }))
        }
    })
}

/// Tells the taps when the worker's HTTP service is dropped (the worker
/// stopping), so each lets go of the app while the worker is still there.
struct Stopping(Arc<[Arc<dyn AppTap>]>);

impl Drop for Stopping {
    fn drop(&mut self) {
        for tap in self.0.iter() {
            tap.worker_stopped();
        }
    }
}
