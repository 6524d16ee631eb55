package oktatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// ExampleServer_Outbox reads the PIN email of a pre-registered key. The
// fulfillmenttest World runs the whole order against the fake Okta org and
// Yubico; when Yubico ships the key, send-pin mails the preset PIN to the
// STAGED new hire's secondary email, and the outbox is that mailbox.
func ExampleServer_Outbox() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithUsers(fulfillmenttest.NewHire("isaac")))
	defer w.Close()
	u := w.User("isaac@example.com")
	if _, err := w.Service.Order(ctx, u.Profile.Login); err != nil {
		log.Fatal(err)
	}
	w.AdvanceTo(ctx, fulfillmenttest.Shipped)
	srv := w.Okta
	for _, m := range srv.Outbox() {
		fmt.Printf("to %s, %q, a PIN email: %v\n", m.To, m.Subject, m.IsPIN())
	}
	// The user reads the newest PIN email in the mailbox; the PIN unlocks
	// the key in the parcel (SignIn fails otherwise).
	pin, err := srv.PIN(u.Profile.SecondEmail)
	if err != nil {
		log.Fatal(err)
	}
	w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	w.SignIn(ctx, u.Profile.Login, w.Parcel(ctx, u.Profile.Login), pin)
	fmt.Println("signed in with the emailed PIN")
	_, err = srv.PIN(u.Profile.Email)
	fmt.Println("nothing at the primary email:", errors.Is(err, oktatest.ErrNoPINEmail))
	// Output:
	// to isaac@home.example.net, "Your YubiKey PIN", a PIN email: true
	// signed in with the emailed PIN
	// nothing at the primary email: true
}

// ExampleServer_PINWiped shows the preset PIN's end: the first sign-in
// with the key wipes it in Okta, after which send-pin is refused; the
// sign-in also sets the user's lastLogin.
func ExampleServer_PINWiped() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")))
	defer w.Close()
	const login = "ada@example.com"
	if _, err := w.Service.Order(ctx, login); err != nil {
		log.Fatal(err)
	}
	w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	srv, u := w.Okta, w.User(login)
	enrollmentID := w.Status(ctx, login).Enrollments[0].ID
	fmt.Println("before sign-in: PIN wiped", srv.PINWiped(enrollmentID))
	w.SignIn(ctx, login, w.Parcel(ctx, login), w.PIN(login))
	fmt.Println("after sign-in: PIN wiped", srv.PINWiped(enrollmentID))
	err := w.OktaClient.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: enrollmentID})
	fmt.Println("send-pin refused:", errors.Is(err, okta.ErrValidation))
	got, _ := srv.User(u.ID)
	fmt.Println("lastLogin is the sign-in's time:", got.LastLogin.Equal(srv.Now()))
	// Output:
	// before sign-in: PIN wiped false
	// after sign-in: PIN wiped true
	// send-pin refused: true
	// lastLogin is the sign-in's time: true
}

// ExampleServer_AddEventHook registers an event hook, which Okta verifies
// first, and receives the event an order emits.
func ExampleServer_AddEventHook() {
	ctx := context.Background()
	srv, err := oktatest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	const secret = "hook-secret-2f9c"
	var (
		mu       sync.Mutex
		received []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != secret {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet { // the one-time verification
			_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
			return
		}
		var body okta.EventHookDelivery
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Data == nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range body.Data.Events {
			var targets []string
			for _, t := range e.Target {
				targets = append(targets, t.Type)
			}
			received = append(received, fmt.Sprintf("%s (target %s)", e.EventType, strings.Join(targets, ", ")))
		}
	}))
	defer hook.Close()
	if _, err := srv.AddEventHook(ctx, hook.URL, secret, okta.EventTypePreregisterInitiate); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("hook verified")

	u, err := srv.AddUser(okta.Profile{
		Login: "isaac@example.com", Email: "isaac@example.com", SecondEmail: "isaac@home.example",
		FirstName: "Isaac", LastName: "Brock",
	}, okta.UserStaged)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "12", CustomizationID: "2EZ4RZ"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Okta delivers asynchronously, after answering the request.
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ds, err := srv.AwaitDeliveries(waitCtx, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("delivered:", ds[0].EventType, "answered", ds[0].Status)
	mu.Lock()
	defer mu.Unlock()
	fmt.Println("received:", strings.Join(received, ", "))
	// Output:
	// hook verified
	// delivered: system.mfa.preregister.initiate answered 200
	// received: system.mfa.preregister.initiate (target User, PreregistrationMFAFactorResourceDetails)
}
