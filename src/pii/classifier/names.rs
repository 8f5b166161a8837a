//! What column, table and JSON key names say. A name is only context: it
//! raises or lowers the confidence that values give, and alone (for a column
//! with no values yet) it gives a modest suggestion.

use super::{InfoType, N_INFOTYPES};

/// Splits `customerEmail2`, `customer_email_2`, `Customer-Email 2` into
/// lower-case tokens `customer`, `email`, `2`.
pub fn tokens(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let camel = p.is_lowercase() && c.is_uppercase();
            let digit_edge = p.is_ascii_digit() != c.is_ascii_digit();
            if (camel || digit_edge) && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
        prev = Some(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// How a keyword is matched against a name.
#[derive(Clone, Copy)]
enum Match {
    /// One whole token equals the keyword (short words: `ip`, `dob`).
    Token,
    /// The tokens joined without separators contain the keyword
    /// (`emailaddress`, `date_of_birth` → `dateofbirth`).
    Joined,
}

use InfoType::*;
use Match::{Joined, Token};

/// (keyword, how, infotype, weight). Weights: 0.9 the name says it outright,
/// 0.6 it usually means it, 0.3 it hints.
const POSITIVE: &[(&str, Match, InfoType, f32)] = &[
    ("email", Joined, Email, 0.9),
    ("mail", Token, Email, 0.7),
    ("courriel", Joined, Email, 0.9),
    ("correo", Joined, Email, 0.8),
    ("phone", Joined, Phone, 0.9),
    ("telephone", Joined, Phone, 0.9),
    ("telefon", Joined, Phone, 0.9),
    ("telefone", Joined, Phone, 0.9),
    ("tel", Token, Phone, 0.7),
    ("mobile", Joined, Phone, 0.7),
    ("cell", Token, Phone, 0.6),
    ("cellphone", Joined, Phone, 0.9),
    ("msisdn", Joined, Phone, 0.9),
    ("fax", Token, Phone, 0.8),
    ("handy", Token, Phone, 0.6),
    ("whatsapp", Joined, Phone, 0.7),
    ("ip", Token, Ipv4, 0.8),
    ("ip", Token, Ipv6, 0.8),
    ("ipv4", Token, Ipv4, 0.9),
    ("ipv6", Token, Ipv6, 0.9),
    ("ipaddr", Joined, Ipv4, 0.9),
    ("ipaddr", Joined, Ipv6, 0.9),
    ("remoteaddr", Joined, Ipv4, 0.8),
    ("remoteaddr", Joined, Ipv6, 0.8),
    ("forwardedfor", Joined, Ipv4, 0.8),
    ("forwardedfor", Joined, Ipv6, 0.8),
    ("inet", Token, Ipv4, 0.5),
    ("inet", Token, Ipv6, 0.5),
    ("mac", Token, MacAddress, 0.8),
    ("macaddr", Joined, MacAddress, 0.9),
    ("hwaddr", Joined, MacAddress, 0.9),
    ("bssid", Joined, MacAddress, 0.8),
    ("firstname", Joined, PersonName, 0.9),
    ("lastname", Joined, PersonName, 0.9),
    ("fullname", Joined, PersonName, 0.9),
    ("givenname", Joined, PersonName, 0.9),
    ("familyname", Joined, PersonName, 0.9),
    ("middlename", Joined, PersonName, 0.9),
    ("maidenname", Joined, PersonName, 0.9),
    ("surname", Joined, PersonName, 0.9),
    ("forename", Joined, PersonName, 0.9),
    ("fname", Token, PersonName, 0.8),
    ("lname", Token, PersonName, 0.8),
    ("vorname", Joined, PersonName, 0.9),
    ("nachname", Joined, PersonName, 0.9),
    ("prenom", Joined, PersonName, 0.9),
    ("nombre", Joined, PersonName, 0.7),
    ("apellido", Joined, PersonName, 0.9),
    ("cognome", Joined, PersonName, 0.9),
    ("voornaam", Joined, PersonName, 0.9),
    ("achternaam", Joined, PersonName, 0.9),
    ("sobrenome", Joined, PersonName, 0.9),
    ("nazwisko", Joined, PersonName, 0.9),
    ("imie", Token, PersonName, 0.8),
    // Given and family names in more languages (read romanised too: `фамилия` → `familiia`, `όνομα` → `onoma`).
    ("vardas", Token, PersonName, 0.8),
    ("pavarde", Joined, PersonName, 0.9),
    ("vards", Token, PersonName, 0.8),
    ("uzvards", Joined, PersonName, 0.9),
    ("priimek", Joined, PersonName, 0.9),
    ("prezime", Joined, PersonName, 0.9),
    ("prijmeni", Joined, PersonName, 0.9),
    ("jmeno", Token, PersonName, 0.8),
    ("priezvisko", Joined, PersonName, 0.9),
    ("vezeteknev", Joined, PersonName, 0.9),
    ("keresztnev", Joined, PersonName, 0.9),
    ("utonev", Joined, PersonName, 0.9),
    ("prenume", Joined, PersonName, 0.9),
    ("soyad", Joined, PersonName, 0.9),
    ("soyisim", Joined, PersonName, 0.9),
    ("etunimi", Joined, PersonName, 0.9),
    ("sukunimi", Joined, PersonName, 0.9),
    ("eesnimi", Joined, PersonName, 0.9),
    ("perekonnanimi", Joined, PersonName, 0.9),
    ("fornavn", Joined, PersonName, 0.9),
    ("etternavn", Joined, PersonName, 0.9),
    ("efternavn", Joined, PersonName, 0.9),
    ("fornamn", Joined, PersonName, 0.9),
    ("efternamn", Joined, PersonName, 0.9),
    ("familiia", Joined, PersonName, 0.9),
    ("otchestvo", Joined, PersonName, 0.9),
    ("eponumo", Joined, PersonName, 0.9),
    ("namadepan", Joined, PersonName, 0.9),
    ("namabelakang", Joined, PersonName, 0.9),
    ("namalengkap", Joined, PersonName, 0.9),
    ("xingming", Joined, PersonName, 0.9),
    ("nombrecompleto", Joined, PersonName, 0.9),
    ("nomecompleto", Joined, PersonName, 0.9),
    ("nomcomplet", Joined, PersonName, 0.9),
    ("imia", Token, PersonName, 0.8),
    ("prizvishche", Joined, PersonName, 0.9),
    ("ireum", Joined, PersonName, 0.8),
    ("mingzi", Joined, PersonName, 0.8),
    ("xingshi", Joined, PersonName, 0.8),
    ("onoma", Joined, PersonName, 0.8),
    ("saxeli", Joined, PersonName, 0.8),
    ("gvari", Joined, PersonName, 0.9),
    ("isim", Token, PersonName, 0.7),
    ("naam", Token, PersonName, 0.3),
    ("customername", Joined, PersonName, 0.8),
    ("contactname", Joined, PersonName, 0.8),
    ("patientname", Joined, PersonName, 0.9),
    ("holdername", Joined, PersonName, 0.8),
    ("cardholder", Joined, PersonName, 0.8),
    ("recipient", Joined, PersonName, 0.5),
    ("author", Token, PersonName, 0.4),
    ("name", Token, PersonName, 0.3),
    // The word for "name" in more languages, as weak as `name` (products and places have names too),
    // and words for "family name" that say more.
    ("nome", Token, PersonName, 0.3),
    ("nom", Token, PersonName, 0.3),
    ("navn", Token, PersonName, 0.3),
    ("namn", Token, PersonName, 0.3),
    ("nimi", Token, PersonName, 0.3),
    ("ime", Token, PersonName, 0.3),
    ("nama", Token, PersonName, 0.3),
    ("nume", Token, PersonName, 0.3),
    ("meno", Token, PersonName, 0.3),
    ("emri", Token, PersonName, 0.3),
    ("anun", Token, PersonName, 0.3),
    ("pangalan", Token, PersonName, 0.3),
    ("mbiemri", Joined, PersonName, 0.9),
    ("apelido", Joined, PersonName, 0.9),
    ("apelyido", Joined, PersonName, 0.9),
    ("hoten", Joined, PersonName, 0.9),
    ("address", Joined, PostalAddress, 0.7),
    ("addr", Token, PostalAddress, 0.5),
    ("street", Joined, PostalAddress, 0.9),
    ("addressline", Joined, PostalAddress, 0.9),
    ("strasse", Joined, PostalAddress, 0.9),
    ("adresse", Joined, PostalAddress, 0.8),
    ("direccion", Joined, PostalAddress, 0.8),
    ("indirizzo", Joined, PostalAddress, 0.8),
    ("endereco", Joined, PostalAddress, 0.8),
    ("zip", Token, Postcode, 0.9),
    ("zipcode", Joined, Postcode, 0.9),
    ("postcode", Joined, Postcode, 0.9),
    ("postalcode", Joined, Postcode, 0.9),
    ("postleitzahl", Joined, Postcode, 0.9),
    ("plz", Token, Postcode, 0.9),
    ("cep", Token, Postcode, 0.8),
    ("cap", Token, Postcode, 0.5),
    ("codepostal", Joined, Postcode, 0.9),
    ("codigopostal", Joined, Postcode, 0.9),
    ("pincode", Joined, Postcode, 0.6),
    ("postal", Token, Postcode, 0.7),
    ("dob", Token, DateOfBirth, 0.9),
    ("birth", Joined, DateOfBirth, 0.9),
    ("born", Token, DateOfBirth, 0.8),
    ("geburt", Joined, DateOfBirth, 0.9),
    ("naissance", Joined, DateOfBirth, 0.9),
    ("nacimiento", Joined, DateOfBirth, 0.9),
    ("nascita", Joined, DateOfBirth, 0.9),
    ("geboorte", Joined, DateOfBirth, 0.9),
    ("creditcard", Joined, CreditCard, 0.9),
    ("cardnumber", Joined, CreditCard, 0.9),
    ("cardno", Joined, CreditCard, 0.9),
    ("ccnumber", Joined, CreditCard, 0.9),
    ("ccnum", Joined, CreditCard, 0.9),
    ("cc", Token, CreditCard, 0.5),
    ("pan", Token, CreditCard, 0.6),
    ("card", Token, CreditCard, 0.4),
    ("iban", Joined, Iban, 0.9),
    ("bankaccount", Joined, Iban, 0.6),
    ("accountnumber", Joined, Iban, 0.3),
    ("ssn", Token, UsSsn, 0.9),
    ("socialsecurity", Joined, UsSsn, 0.9),
    ("taxid", Joined, UsSsn, 0.4),
    ("tin", Token, UsSsn, 0.4),
    ("nationalid", Joined, NationalId, 0.9),
    ("nationalidentity", Joined, NationalId, 0.9),
    ("nino", Token, NationalId, 0.9),
    ("nin", Token, NationalId, 0.8),
    ("bsn", Token, NationalId, 0.9),
    ("dni", Token, NationalId, 0.9),
    ("nif", Token, NationalId, 0.8),
    ("nie", Token, NationalId, 0.7),
    ("nir", Token, NationalId, 0.8),
    ("insee", Joined, NationalId, 0.8),
    ("cpf", Token, NationalId, 0.9),
    ("pesel", Joined, NationalId, 0.9),
    ("personnummer", Joined, NationalId, 0.9),
    ("hetu", Token, NationalId, 0.9),
    ("aadhaar", Joined, NationalId, 0.9),
    ("passport", Joined, NationalId, 0.8),
    ("idcard", Joined, NationalId, 0.7),
    ("codicefiscale", Joined, NationalId, 0.9),
    ("fiscalcode", Joined, NationalId, 0.8),
    ("steuerid", Joined, NationalId, 0.8),
    ("residentid", Joined, NationalId, 0.7),
    ("citizenid", Joined, NationalId, 0.7),
    // Identity documents in the languages of the countries whose schemes are checked (names are also
    // read romanised, `паспорт` → `pasport`, `護照` → `huzhao`): the column name is often all that tells a
    // passport number (nine digits, or a letter and eight digits) from an order number.
    ("reisepass", Joined, NationalId, 0.85),
    ("passeport", Joined, NationalId, 0.85),
    ("pasaporte", Joined, NationalId, 0.85),
    ("passaport", Joined, NationalId, 0.85),
    ("paspoort", Joined, NationalId, 0.85),
    ("paszport", Joined, NationalId, 0.85),
    ("pasport", Joined, NationalId, 0.85),
    ("pasaport", Joined, NationalId, 0.85),
    ("passnummer", Joined, NationalId, 0.85),
    ("passnr", Joined, NationalId, 0.7),
    ("cestovnipas", Joined, NationalId, 0.85),
    ("utlevel", Joined, NationalId, 0.85),
    ("passin", Token, NationalId, 0.7),
    ("diabater", Joined, NationalId, 0.85),
    ("pasupoto", Joined, NationalId, 0.85),
    ("huzhao", Joined, NationalId, 0.85),
    ("yeogweon", Joined, NationalId, 0.85),
    ("identitycard", Joined, NationalId, 0.85),
    ("identitydocument", Joined, NationalId, 0.85),
    ("identitynumber", Joined, NationalId, 0.8),
    ("documentoidentidad", Joined, NationalId, 0.85),
    ("documentodeidentidad", Joined, NationalId, 0.85),
    ("cartedidentite", Joined, NationalId, 0.85),
    ("cartaidentita", Joined, NationalId, 0.85),
    ("cartadidentita", Joined, NationalId, 0.85),
    ("personalausweis", Joined, NationalId, 0.85),
    ("ausweisnummer", Joined, NationalId, 0.85),
    ("identiteitskaart", Joined, NationalId, 0.85),
    ("identiteitsbewijs", Joined, NationalId, 0.85),
    ("dowodosobist", Joined, NationalId, 0.85),
    ("nrdowodu", Joined, NationalId, 0.85),
    ("obcanskyprukaz", Joined, NationalId, 0.85),
    ("henkilokortti", Joined, NationalId, 0.85),
    ("udostoverenie", Joined, NationalId, 0.7),
    ("shenfenzheng", Joined, NationalId, 0.9),
    ("documentnumber", Joined, NationalId, 0.7),
    ("documentno", Joined, NationalId, 0.7),
    ("numerodocumento", Joined, NationalId, 0.7),
    ("numerodedocumento", Joined, NationalId, 0.7),
    ("dokumentnummer", Joined, NationalId, 0.7),
    ("nrdokumentu", Joined, NationalId, 0.7),
    ("driverlicense", Joined, NationalId, 0.8),
    ("driverslicense", Joined, NationalId, 0.8),
    ("driverlicence", Joined, NationalId, 0.8),
    ("driverslicence", Joined, NationalId, 0.8),
    ("drivinglicence", Joined, NationalId, 0.8),
    ("drivinglicense", Joined, NationalId, 0.8),
    ("fuhrerschein", Joined, NationalId, 0.8),
    ("fuehrerschein", Joined, NationalId, 0.8),
    ("permisdeconduire", Joined, NationalId, 0.8),
    ("permisconduire", Joined, NationalId, 0.8),
    ("rijbewijs", Joined, NationalId, 0.8),
    ("prawojazdy", Joined, NationalId, 0.8),
    ("carnetdeconducir", Joined, NationalId, 0.8),
    ("licenciadeconducir", Joined, NationalId, 0.8),
    ("korkort", Joined, NationalId, 0.8),
    ("ajokortti", Joined, NationalId, 0.8),
    ("forerkort", Joined, NationalId, 0.8),
    ("burgerservicenummer", Joined, NationalId, 0.9),
    ("henkilotunnus", Joined, NationalId, 0.9),
    ("fodselsnummer", Joined, NationalId, 0.9),
    ("personnr", Joined, NationalId, 0.85),
    ("kimlik", Joined, NationalId, 0.85),
    ("tckn", Token, NationalId, 0.9),
    ("jumindeungnok", Joined, NationalId, 0.9),
    ("mynumber", Joined, NationalId, 0.85),
    ("kennitala", Joined, NationalId, 0.9),
    ("isikukood", Joined, NationalId, 0.9),
    ("asmenskodas", Joined, NationalId, 0.9),
    ("personaskods", Joined, NationalId, 0.9),
    ("rodnecislo", Joined, NationalId, 0.9),
    ("szemelyiszam", Joined, NationalId, 0.9),
    ("szemelyiazonosito", Joined, NationalId, 0.9),
    ("cnp", Token, NationalId, 0.85),
    ("egn", Token, NationalId, 0.85),
    ("oib", Token, NationalId, 0.85),
    ("jmbg", Token, NationalId, 0.9),
    ("emso", Token, NationalId, 0.9),
    ("amka", Token, NationalId, 0.9),
    ("cpr", Token, NationalId, 0.8),
    ("curp", Token, NationalId, 0.9),
    ("cedula", Joined, NationalId, 0.85),
    ("nric", Token, NationalId, 0.9),
    ("hkid", Token, NationalId, 0.9),
    ("mykad", Token, NationalId, 0.9),
    ("emiratesid", Joined, NationalId, 0.9),
    ("iqama", Token, NationalId, 0.9),
    ("ktp", Token, NationalId, 0.8),
    ("cuil", Token, NationalId, 0.85),
    ("cuit", Token, NationalId, 0.7),
    ("ahv", Token, NationalId, 0.85),
    ("svnr", Token, NationalId, 0.85),
    ("sozialversicherung", Joined, NationalId, 0.85),
    ("securitesociale", Joined, NationalId, 0.85),
    ("seguridadsocial", Joined, NationalId, 0.85),
    ("socialinsurance", Joined, NationalId, 0.85),
    ("nhs", Token, NationalId, 0.8),
    ("itin", Token, NationalId, 0.8),
    ("tfn", Token, NationalId, 0.8),
    ("voterid", Joined, NationalId, 0.8),
    ("lat", Token, GeoCoordinates, 0.8),
    ("lng", Token, GeoCoordinates, 0.8),
    ("lon", Token, GeoCoordinates, 0.8),
    ("latitude", Joined, GeoCoordinates, 0.9),
    ("longitude", Joined, GeoCoordinates, 0.9),
    ("latlng", Joined, GeoCoordinates, 0.9),
    ("latlon", Joined, GeoCoordinates, 0.9),
    ("coords", Token, GeoCoordinates, 0.8),
    ("coordinates", Token, GeoCoordinates, 0.8),
    ("geo", Token, GeoCoordinates, 0.6),
    ("geolocation", Joined, GeoCoordinates, 0.8),
    ("gps", Token, GeoCoordinates, 0.8),
    ("location", Token, GeoCoordinates, 0.3),
    ("position", Token, GeoCoordinates, 0.2),
    ("url", Token, UrlWithCredentials, 0.3),
    ("uri", Token, UrlWithCredentials, 0.3),
    ("dsn", Token, UrlWithCredentials, 0.6),
    ("connectionstring", Joined, UrlWithCredentials, 0.7),
    ("connstr", Joined, UrlWithCredentials, 0.6),
    ("databaseurl", Joined, UrlWithCredentials, 0.7),
    ("password", Joined, Secret, 0.9),
    ("passwd", Joined, Secret, 0.9),
    ("pwd", Token, Secret, 0.8),
    ("secret", Joined, Secret, 0.9),
    ("token", Joined, Secret, 0.8),
    ("apikey", Joined, Secret, 0.9),
    ("accesskey", Joined, Secret, 0.8),
    ("privatekey", Joined, Secret, 0.9),
    ("secretkey", Joined, Secret, 0.9),
    ("signingkey", Joined, Secret, 0.9),
    ("credential", Joined, Secret, 0.8),
    ("authorization", Joined, Secret, 0.6),
    ("bearer", Token, Secret, 0.7),
    ("otp", Token, Secret, 0.5),
    ("userid", Joined, UserTrackingId, 0.9),
    ("uid", Token, UserTrackingId, 0.7),
    ("user", Token, UserTrackingId, 0.5),
    ("visitor", Joined, UserTrackingId, 0.9),
    ("device", Token, UserTrackingId, 0.7),
    ("deviceid", Joined, UserTrackingId, 0.9),
    ("session", Token, UserTrackingId, 0.6),
    ("sessionid", Joined, UserTrackingId, 0.8),
    ("sid", Token, UserTrackingId, 0.5),
    ("anonymousid", Joined, UserTrackingId, 0.9),
    ("anonid", Joined, UserTrackingId, 0.9),
    ("cookie", Joined, UserTrackingId, 0.8),
    ("clientid", Joined, UserTrackingId, 0.6),
    ("customerid", Joined, UserTrackingId, 0.9),
    ("custid", Joined, UserTrackingId, 0.8),
    ("memberid", Joined, UserTrackingId, 0.9),
    ("accountid", Joined, UserTrackingId, 0.8),
    ("personid", Joined, UserTrackingId, 0.9),
    ("profileid", Joined, UserTrackingId, 0.9),
    ("subscriberid", Joined, UserTrackingId, 0.9),
    ("playerid", Joined, UserTrackingId, 0.9),
    ("patientid", Joined, UserTrackingId, 0.9),
    ("employeeid", Joined, UserTrackingId, 0.8),
    ("guestid", Joined, UserTrackingId, 0.9),
    ("buyerid", Joined, UserTrackingId, 0.8),
    ("ownerid", Joined, UserTrackingId, 0.6),
    ("authorid", Joined, UserTrackingId, 0.6),
    ("idfa", Token, UserTrackingId, 0.9),
    ("idfv", Token, UserTrackingId, 0.9),
    ("gaid", Token, UserTrackingId, 0.9),
    ("adid", Token, UserTrackingId, 0.8),
    ("advertisingid", Joined, UserTrackingId, 0.9),
    ("fingerprint", Joined, UserTrackingId, 0.7),
    ("distinctid", Joined, UserTrackingId, 0.9),
    ("trackingid", Joined, UserTrackingId, 0.7),
    ("installationid", Joined, UserTrackingId, 0.8),
    ("installid", Joined, UserTrackingId, 0.8),
    ("externalid", Joined, UserTrackingId, 0.4),
    // Account names and social handles (English and the languages whose scripts names are read in).
    ("username", Joined, UserTrackingId, 0.9),
    ("screenname", Joined, UserTrackingId, 0.9),
    ("nickname", Joined, UserTrackingId, 0.85),
    ("nick", Token, UserTrackingId, 0.8),
    ("handle", Token, UserTrackingId, 0.8),
    ("login", Token, UserTrackingId, 0.75),
    ("loginname", Joined, UserTrackingId, 0.9),
    ("twitter", Token, UserTrackingId, 0.7),
    ("instagram", Token, UserTrackingId, 0.7),
    ("telegram", Token, UserTrackingId, 0.6),
    ("benutzername", Joined, UserTrackingId, 0.9),
    ("gebruikersnaam", Joined, UserTrackingId, 0.9),
    ("usuario", Joined, UserTrackingId, 0.7),
    ("utilisateur", Joined, UserTrackingId, 0.7),
    ("utente", Token, UserTrackingId, 0.7),
    ("kullaniciadi", Joined, UserTrackingId, 0.9),
    ("brugernavn", Joined, UserTrackingId, 0.9),
    ("anvandarnamn", Joined, UserTrackingId, 0.9),
    ("пользователь", Joined, UserTrackingId, 0.8),
    ("логин", Joined, UserTrackingId, 0.85),
    ("ник", Token, UserTrackingId, 0.8),
    ("用户名", Joined, UserTrackingId, 0.9),
    ("ユーザー名", Joined, UserTrackingId, 0.9),
    ("아이디", Joined, UserTrackingId, 0.8),
];

/// Nouns that turn `…_name`, `…_address`, `…_id` into something that is not
/// about a person: `product_name`, `ip_address` (not postal), `order_id`.
const NOT_A_PERSON_NAME: &[&str] = &[
    "product",
    "company",
    "file",
    "filename",
    "host",
    "hostname",
    "table",
    "column",
    "schema",
    "db",
    "database",
    "brand",
    "category",
    "app",
    "org",
    "organisation",
    "organization",
    "team",
    "project",
    "city",
    "country",
    "street",
    "store",
    "shop",
    "item",
    "event",
    "job",
    "role",
    "group",
    "tag",
    "field",
    "key",
    "bucket",
    "server",
    "service",
    "model",
    "device",
    "domain",
    "plan",
    "campaign",
    "feature",
    "metric",
    "branch",
    "repo",
    "class",
    "bank",
    "merchant",
    "vendor",
    "supplier",
    "place",
    "venue",
    "region",
    "state",
    "province",
    "county",
    "department",
    "user",
    "username",
    "login",
    "screen",
    "nick",
    "nickname",
    "business",
    "legal",
    "trade",
    "site",
    "page",
    "queue",
    "topic",
    "index",
    "type",
    "color",
    "colour",
    "font",
    "package",
    "module",
    "function",
    "method",
    "attribute",
    "dataset",
    "sku",
    "package",
    "container",
    "image",
    "pipeline",
    "task",
];
/// Nouns of `NOT_A_PERSON_NAME` that tell nothing on their own (see `hints`).
const GENERIC_NOUNS: &[&str] = &[
    "field",
    "key",
    "item",
    "type",
    "tag",
    "index",
    "column",
    "attribute",
    "class",
    "value",
];
const NOT_POSTAL: &[&str] = &[
    "ip", "email", "mail", "mac", "wallet", "web", "url", "contract", "memory", "server", "remote", "hw", "network",
    "bitcoin", "eth", "crypto", "host", "inet", "ipv4", "ipv6", "local", "bind", "listen", "proxy",
];
const NOT_TRACKING: &[&str] = &[
    "product",
    "item",
    "sku",
    "order",
    "invoice",
    "checksum",
    "hash",
    "sha",
    "sha1",
    "sha256",
    "md5",
    "digest",
    "etag",
    "commit",
    "file",
    "blob",
    "object",
    "build",
    "release",
    "version",
    "trace",
    "span",
    "request",
    "correlation",
    "message",
    "msg",
    "event",
    "batch",
    "job",
    "task",
    "run",
    "migration",
    "schema",
    "model",
    "warehouse",
    "shipment",
    "parcel",
    "package",
    "catalog",
    "category",
    "listing",
    "sku",
    "asset",
    "document",
    "doc",
    "image",
    "upload",
    "transaction",
    "txn",
    "payment",
    "tenant",
    "workspace",
    "project",
    "repo",
    "content",
    "idempotency",
    "nonce",
    "partition",
    "chunk",
    "segment",
    "campaign",
    "experiment",
    "variant",
];
const NOT_PHONE: &[&str] = &[
    "order",
    "invoice",
    "sku",
    "tracking",
    "confirmation",
    "booking",
    "reservation",
    "serial",
    "part",
    "batch",
    "lot",
    "ticket",
    "reference",
    "ref",
    "po",
    "shipment",
    "parcel",
    "product",
    "item",
    "receipt",
];
const NOT_IP: &[&str] = &["version", "ver", "release", "build", "firmware", "os", "semver", "revision", "rev"];
const NOT_SECRET: &[&str] = &[
    "checksum",
    "etag",
    "commit",
    "digest",
    "sha",
    "sha1",
    "sha256",
    "md5",
    "hash",
    "content",
    "file",
    "expires",
    "expiry",
    "expiration",
    "type",
    "count",
    "length",
    "name",
    "hint",
    "policy",
    "reset",
    "changed",
    "updated",
];
const NOT_DOB: &[&str] = &[
    "created",
    "updated",
    "modified",
    "order",
    "shipped",
    "delivered",
    "expires",
    "expiry",
    "start",
    "end",
    "due",
    "event",
    "purchase",
    "signup",
    "registered",
    "hired",
    "hire",
    "paid",
    "closed",
    "opened",
    "published",
    "deleted",
    "login",
    "logout",
    "seen",
    "visit",
    "sent",
    "received",
    "scheduled",
    "valid",
    "effective",
    "release",
    "build",
];
const NOT_GEO: &[&str] = &["price", "amount", "total", "rate", "score", "ratio", "weight", "percent", "pct"];
/// Last tokens that describe something *about* the data rather than the data:
/// `email_verified`, `phone_count`, `ip_type`.
const META_SUFFIXES: &[&str] = &[
    "verified",
    "confirmed",
    "enabled",
    "disabled",
    "sent",
    "count",
    "cnt",
    "flag",
    "status",
    "type",
    "optin",
    "optout",
    "format",
    "valid",
    "validated",
    "bounced",
    "domain",
    "template",
    "subject",
    "provider",
    "consent",
    "length",
    "len",
    "ts",
    "timestamp",
    "updated",
    "changed",
    "preference",
    "preferences",
    "allowed",
    "required",
    "visible",
    "mask",
    "masked",
    "policy",
    "source",
    "kind",
    "label",
    "country",
];
const BOOLEAN_PREFIXES: &[&str] = &["is", "has", "can", "should", "allow", "use", "needs", "want"];
/// Tokens meaning the value is a digest of the thing named (`email_sha256`).
const HASH_TOKENS: &[&str] = &["hash", "hashed", "sha", "sha1", "sha256", "md5", "digest", "fingerprint"];

/// What a name says about each infotype.
#[derive(Debug, Clone)]
pub struct NameHints {
    /// 0..1: how strongly the name suggests the infotype.
    pub positive: [f32; N_INFOTYPES],
    /// 0..1 multiplier: 1 means no objection; lower means the name argues
    /// against the infotype (`order_phone_like_ref`, `version`).
    pub damp: [f32; N_INFOTYPES],
}

impl Default for NameHints {
    fn default() -> Self {
        NameHints { positive: [0.0; N_INFOTYPES], damp: [1.0; N_INFOTYPES] }
    }
}

impl NameHints {
    pub fn positive(&self, t: InfoType) -> f32 {
        self.positive[t as usize]
    }

    pub fn damp(&self, t: InfoType) -> f32 {
        self.damp[t as usize]
    }
}

fn has_any(tokens: &[String], words: &[&str]) -> bool {
    tokens.iter().any(|t| words.contains(&t.as_str()))
}

/// Reads a column (or JSON key) name.
pub fn hints(name: &str) -> NameHints {
    let toks = tokens(name);
    let mut h = NameHints::default();
    if toks.is_empty() {
        return h;
    }
    let joined: String = toks.concat();
    // The same name romanised (`номер_паспорта` → `nomerpasporta`, `护照号码` → `huzhaohaoma`), for the
    // keywords of other scripts; names already in ASCII are left as they are.
    let (rom_toks, rom_joined) = if joined.is_ascii() {
        (Vec::new(), String::new())
    } else {
        let rt: Vec<String> = toks
            .iter()
            .map(|t| deunicode::deunicode(t).chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        let rj = rt.concat();
        (rt, rj)
    };
    for &(keyword, how, infotype, weight) in POSITIVE {
        let hit = match how {
            Token => toks.iter().any(|t| t == keyword) || rom_toks.iter().any(|t| t == keyword),
            Joined => joined.contains(keyword) || rom_joined.contains(keyword),
        };
        if hit {
            let slot = &mut h.positive[infotype as usize];
            *slot = slot.max(weight);
        }
    }
    // `name` alone is weak, but `first name`, `customer name`, `holder name` are not.
    if toks.iter().any(|t| t == "name") && toks.len() >= 2 {
        let before_name =
            toks.iter().position(|t| t == "name").and_then(|i| i.checked_sub(1)).map(|i| toks[i].as_str());
        if matches!(
            before_name,
            Some(
                "first"
                    | "last"
                    | "full"
                    | "given"
                    | "family"
                    | "middle"
                    | "customer"
                    | "contact"
                    | "patient"
                    | "holder"
                    | "person"
                    | "member"
                    | "employee"
                    | "client"
                    | "guest"
                    | "owner"
                    | "sender"
                    | "billing"
                    | "shipping"
                    | "legal"
                    | "birth"
                    | "real"
                    | "maiden"
                    | "student"
                    | "driver"
                    | "passenger"
                    | "emergency"
            )
        ) {
            h.positive[PersonName as usize] = h.positive[PersonName as usize].max(0.85);
        }
    }
    if ["birthplace", "placeofbirth", "birthcountry", "countryofbirth", "cityofbirth", "birthcity"]
        .iter()
        .any(|k| joined.contains(k))
    {
        h.positive[DateOfBirth as usize] = 0.0;
    }
    if joined.contains("address") && !["zip", "postcode", "postalcode", "plz"].iter().any(|k| joined.contains(k)) {
        h.positive[Postcode as usize] = 0.0;
    }
    // Generic nouns (`field`, `item`, `key`) say what a name is of only next to `name`
    // (`field_name`); alone they are as opaque as `c1`.
    let generic_alone = toks
        .iter()
        .all(|t| GENERIC_NOUNS.contains(&t.as_str()) || t.bytes().all(|b| b.is_ascii_digit()));
    if has_any(&toks, NOT_A_PERSON_NAME) && !generic_alone && h.positive[PersonName as usize] < 0.85
    {
        h.damp[PersonName as usize] = 0.2;
        h.positive[PersonName as usize] = 0.0;
    }
    if has_any(&toks, NOT_POSTAL) {
        h.positive[PostalAddress as usize] = 0.0;
        h.damp[PostalAddress as usize] = 0.3;
    }
    if has_any(&toks, NOT_PHONE) {
        h.damp[Phone as usize] = 0.25;
        h.damp[UsSsn as usize] = 0.5;
        h.damp[NationalId as usize] = 0.6;
    }
    if has_any(&toks, NOT_IP) {
        h.damp[Ipv4 as usize] = 0.1;
        h.damp[GeoCoordinates as usize] = 0.3;
    }
    if has_any(&toks, NOT_DOB) {
        h.damp[DateOfBirth as usize] = 0.1;
        h.positive[DateOfBirth as usize] = 0.0;
    }
    if has_any(&toks, NOT_GEO) {
        h.damp[GeoCoordinates as usize] = 0.3;
    }
    let personal_subject = h.positive[Email as usize] > 0.5
        || h.positive[Phone as usize] > 0.5
        || h.positive[Ipv4 as usize] > 0.5
        || h.positive[PersonName as usize] > 0.5
        || h.positive[UsSsn as usize] > 0.5;
    if has_any(&toks, HASH_TOKENS) && personal_subject {
        // `email_sha256`: a pseudonymous identifier of a person, not the email itself.
        h.positive[UserTrackingId as usize] = h.positive[UserTrackingId as usize].max(0.85);
        for t in [Email, Phone, Ipv4, Ipv6, PersonName, UsSsn] {
            h.positive[t as usize] = 0.0;
        }
    } else if has_any(&toks, NOT_TRACKING) {
        h.damp[UserTrackingId as usize] = 0.1;
        h.positive[UserTrackingId as usize] = 0.0;
    }
    if has_any(&toks, NOT_SECRET) && h.positive[Secret as usize] < 0.85 {
        h.damp[Secret as usize] = h.damp[Secret as usize].min(0.3);
        h.positive[Secret as usize] = 0.0;
    }
    let last = toks.last().map(String::as_str).unwrap_or("");
    let first = toks[0].as_str();
    let meta = META_SUFFIXES.contains(&last) && toks.len() > 1;
    if meta || BOOLEAN_PREFIXES.contains(&first) && toks.len() > 1 {
        // `email_verified`, `is_phone_public`: about the data, not the data.
        for slot in h.positive.iter_mut() {
            *slot *= 0.2;
        }
    }
    h
}

/// Table names that say every row is a person (or a person's session).
const PEOPLE_TABLES: &[&str] = &[
    "user",
    "users",
    "customer",
    "customers",
    "client",
    "clients",
    "member",
    "members",
    "account",
    "accounts",
    "profile",
    "profiles",
    "people",
    "person",
    "persons",
    "contact",
    "contacts",
    "employee",
    "employees",
    "staff",
    "patient",
    "patients",
    "student",
    "students",
    "visitor",
    "visitors",
    "subscriber",
    "subscribers",
    "lead",
    "leads",
    "signup",
    "signups",
    "applicant",
    "applicants",
    "candidate",
    "candidates",
    "driver",
    "drivers",
    "rider",
    "riders",
    "guest",
    "guests",
    "player",
    "players",
    "author",
    "authors",
    "recipient",
    "recipients",
    "passenger",
    "passengers",
    "citizen",
    "citizens",
    "resident",
    "residents",
    "tenant",
    "tenants",
    "buyer",
    "buyers",
    "seller",
    "sellers",
    "donor",
    "donors",
    "volunteer",
    "volunteers",
    "session",
    "sessions",
    "participant",
    "participants",
    "attendee",
    "attendees",
    "user_profile",
    "kunden",
    "clientes",
    "utenti",
];

pub fn is_people_table(table: &str) -> bool {
    tokens(table).iter().any(|t| PEOPLE_TABLES.contains(&t.as_str()))
}

/// Whether a column name is a bare key (`id`, `uuid`, `key`, `ref`): it is
/// whatever the table is about.
pub fn is_bare_key(name: &str) -> bool {
    let toks = tokens(name);
    matches!(toks.as_slice(), [t] if matches!(t.as_str(), "id" | "uuid" | "guid" | "key" | "pk" | "oid" | "ref"))
}

/// How personal the neighbouring column names are: 0 none, 1 strongly
/// (several direct identifiers such as email, phone, first name, birth date).
pub fn personal_neighbourhood(neighbours: &[String]) -> f32 {
    let mut strong = 0;
    for n in neighbours {
        let h = hints(n);
        let direct = [Email, Phone, PersonName, DateOfBirth, UsSsn, NationalId, PostalAddress, Ipv4]
            .iter()
            .any(|&t| h.positive(t) >= 0.7);
        if direct {
            strong += 1;
        }
    }
    match strong {
        0 => 0.0,
        1 => 0.5,
        _ => 1.0,
    }
}

/// Which infotypes the neighbours' names announce, strongest weight each.
pub fn neighbour_hints(neighbours: &[String]) -> [f32; N_INFOTYPES] {
    let mut out = [0.0f32; N_INFOTYPES];
    for n in neighbours {
        let h = hints(n);
        for (slot, v) in out.iter_mut().zip(h.positive) {
            *slot = slot.max(v);
        }
    }
    out
}

/// Column names of address parts that make a bare number a postcode.
pub fn mentions_address_parts(neighbours: &[String]) -> bool {
    neighbours.iter().any(|n| {
        let toks = tokens(n);
        has_any(
            &toks,
            &[
                "city", "town", "street", "address", "state", "country", "province", "region", "ort", "stadt", "ville",
                "ciudad", "citta", "stad", "county", "addr", "locality", "suburb",
            ],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenising() {
        assert_eq!(tokens("customerEmail2"), vec!["customer", "email", "2"]);
        assert_eq!(tokens("IP_Address"), vec!["ip", "address"]);
        assert_eq!(tokens("date-of birth"), vec!["date", "of", "birth"]);
    }

    #[test]
    fn names_give_context() {
        assert!(hints("email").positive(Email) > 0.8);
        assert!(hints("EmailAddress").positive(Email) > 0.8);
        assert!(hints("email_verified").positive(Email) < 0.3);
        assert!(hints("ip_address").positive(Ipv4) > 0.7);
        assert_eq!(hints("ip_address").positive(PostalAddress), 0.0);
        assert!(hints("shipping_address").positive(PostalAddress) > 0.6);
        assert!(hints("first_name").positive(PersonName) > 0.8);
        assert_eq!(hints("product_name").positive(PersonName), 0.0);
        assert!(hints("product_id").damp(UserTrackingId) < 0.2);
        assert!(hints("visitor_id").positive(UserTrackingId) > 0.8);
        assert!(hints("email_sha256").positive(UserTrackingId) > 0.8);
        assert_eq!(hints("email_sha256").positive(Email), 0.0);
        assert!(hints("app_version").damp(Ipv4) < 0.2);
        assert!(hints("order_number").damp(Phone) < 0.5);
        assert!(hints("created_at").damp(DateOfBirth) < 0.2);
        assert!(hints("date_of_birth").positive(DateOfBirth) > 0.8);
        assert!(hints("checksum").damp(Secret) < 0.5);
        assert!(hints("zip").positive(Postcode) > 0.8);
        assert!(hints("api_token").positive(Secret) > 0.7);
    }

    #[test]
    fn table_context() {
        assert!(is_people_table("app_users"));
        assert!(!is_people_table("products"));
        assert!(is_bare_key("id"));
        assert!(personal_neighbourhood(&["email".into(), "first_name".into()]) > 0.9);
        assert_eq!(personal_neighbourhood(&["sku".into(), "price".into()]), 0.0);
    }
}
